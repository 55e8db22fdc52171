/**
 * Naive UI's dark theme carries the dark styles of every component (~15 kB gzip): it loads
 * only when the console is dark (main.ts waits for it before the first paint when the
 * console starts dark, so there is no light flash).
 */
import { shallowRef } from 'vue'
import type { GlobalTheme } from 'naive-ui'

export const naiveDarkTheme = shallowRef<GlobalTheme | null>(null)
let pending: Promise<GlobalTheme> | null = null

export function loadDarkTheme(): Promise<GlobalTheme> {
  if (!pending) {
    pending = import('./naiveDark')
      .then((m) => (naiveDarkTheme.value = m.darkTheme))
      .catch((e) => {
        pending = null
        throw e
      })
  }
  return pending
}
