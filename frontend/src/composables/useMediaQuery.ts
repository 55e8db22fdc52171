import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

/** Whether a CSS media query matches, kept up to date while the component is mounted. */
export function useMediaQuery(query: string): Ref<boolean> {
  const mql = typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(query) : null
  const matches = ref(Boolean(mql?.matches))
  const onChange = () => (matches.value = Boolean(mql?.matches))
  onMounted(() => mql?.addEventListener('change', onChange))
  onBeforeUnmount(() => mql?.removeEventListener('change', onChange))
  return matches
}
