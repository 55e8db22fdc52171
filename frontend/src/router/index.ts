import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { routes } from './routes'
import { useUserStore } from '@/stores/user'
import { useStatusStore } from '@/stores/status'
import { i18n, t } from '@/i18n'
import { watch } from 'vue'

const NEED: Record<string, number> = { user: 1, admin: 10, root: 100 }

/** Where the guard sends a navigation, or true to let it through (pure: unit-tested). */
export function guard(
  to: Pick<RouteLocationNormalized, 'meta' | 'fullPath'>,
  user: { role: number } | null,
): true | { name: string; query?: Record<string, string> } {
  const need = to.meta.auth ? NEED[to.meta.auth] : 0
  if (need && !user) return { name: 'login', query: { redirect: to.fullPath } }
  if (need && user && user.role < need) return { name: 'dashboard' }
  if (to.meta.guestOnly && user) return { name: 'dashboard' }
  return true
}

export const router = createRouter({
  history: createWebHistory(),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

router.beforeEach((to) => guard(to, useUserStore().user))

/** The browser tab's title: the page's title (in the current language) · the system name. */
export function pageTitle(): string {
  const to = router.currentRoute.value
  const name = useStatusStore().systemName
  return to.meta.title ? `${t(to.meta.title)} · ${name}` : name
}

router.afterEach(() => {
  document.title = pageTitle()
})

// switching the language renames the tab at once
watch(i18n.global.locale, () => {
  if (typeof document !== 'undefined' && router.currentRoute.value.matched.length) document.title = pageTitle()
})

/** Sends the browser to /login after the API said the session is gone (401). */
export function goLogin(): void {
  const cur = router.currentRoute.value
  if (cur.name === 'login') return
  // a failed page chunk reloads the page (utils/chunkReload, router.onError): not an uncaught rejection
  router.push({ name: 'login', query: cur.meta.auth ? { redirect: cur.fullPath } : {} }).catch(() => undefined)
}
