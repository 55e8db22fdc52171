import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'

export type ThemeMode = 'light' | 'dark'
const KEY = 'onerelay.theme'

function initial(): ThemeMode {
  try {
    const saved = localStorage.getItem(KEY)
    if (saved === 'light' || saved === 'dark') return saved
  } catch {
    /* ignore */
  }
  if (typeof window !== 'undefined' && window.matchMedia?.('(prefers-color-scheme: dark)').matches) return 'dark'
  return 'light'
}

/** Light/dark theme, remembered per browser; defaults to the system preference. */
export const useThemeStore = defineStore('theme', () => {
  const mode = ref<ThemeMode>(initial())
  const dark = computed(() => mode.value === 'dark')

  function toggle(): void {
    mode.value = dark.value ? 'light' : 'dark'
  }

  watch(
    mode,
    (m) => {
      try {
        localStorage.setItem(KEY, m)
      } catch {
        /* ignore */
      }
      if (typeof document !== 'undefined') document.documentElement.dataset.theme = m
    },
    { immediate: true },
  )

  return { mode, dark, toggle }
})
