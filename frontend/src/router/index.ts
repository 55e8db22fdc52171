import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { routes } from './routes'
import { useUserStore } from '@/stores/user'
import { useStatusStore } from '@/stores/status'

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

router.afterEach((to) => {
  const name = useStatusStore().systemName
  document.title = to.meta.title ? `${to.meta.title} · ${name}` : name
})

/** Sends the browser to /login after the API said the session is gone (401). */
export function goLogin(): void {
  const cur = router.currentRoute.value
  if (cur.name === 'login') return
  router.push({ name: 'login', query: cur.meta.auth ? { redirect: cur.fullPath } : {} })
}
