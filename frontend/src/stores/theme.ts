import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'

export type ThemeMode = 'light' | 'dark'
const KEY = 'onerelay.theme'
const QUERY = '(prefers-color-scheme: dark)'

function saved(): ThemeMode | null {
  try {
    const s = localStorage.getItem(KEY)
    if (s === 'light' || s === 'dark') return s
  } catch {
    /* ignore */
  }
  return null
}

function systemQuery(): MediaQueryList | null {
  return typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(QUERY) : null
}

/**
 * Light/dark theme. Until the user picks one (the header switch), the theme follows the
 * system's `prefers-color-scheme`, live; a pick is remembered per browser.
 */
export const useThemeStore = defineStore('theme', () => {
  /** the user's explicit pick, or null: follow the system */
  const picked = ref<ThemeMode | null>(saved())
  const mq = systemQuery()
  const systemDark = ref(Boolean(mq?.matches))
  const onSystem = (e: MediaQueryListEvent | MediaQueryList) => (systemDark.value = e.matches)
  if (mq) {
    if (typeof mq.addEventListener === 'function') mq.addEventListener('change', onSystem)
    else mq.addListener?.(onSystem)
  }

  const mode = computed<ThemeMode>(() => picked.value ?? (systemDark.value ? 'dark' : 'light'))
  const dark = computed(() => mode.value === 'dark')
  /** true while the theme follows the system */
  const followsSystem = computed(() => picked.value === null)

  function set(m: ThemeMode | null): void {
    picked.value = m
    try {
      if (m) localStorage.setItem(KEY, m)
      else localStorage.removeItem(KEY)
    } catch {
      /* ignore */
    }
  }

  function toggle(): void {
    set(dark.value ? 'light' : 'dark')
  }

  watch(
    mode,
    (m) => {
      if (typeof document === 'undefined') return
      document.documentElement.dataset.theme = m
      document.documentElement.style.colorScheme = m
    },
    { immediate: true },
  )

  return { mode, dark, followsSystem, set, toggle }
})
