import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { getSelf, login as apiLogin, logout as apiLogout } from '@/api/session'
import { ROLE_ADMIN, ROLE_ROOT, type User } from '@/api/types'

const CACHE_KEY = 'onerelay.user'

/** The profile as login and `/api/user/self` answer it (`default_password` included). */
export type SessionUser = User

function cached(): SessionUser | null {
  try {
    const raw = localStorage.getItem(CACHE_KEY)
    return raw ? (JSON.parse(raw) as SessionUser) : null
  } catch {
    return null
  }
}

/**
 * The logged-in user. The session itself is an HttpOnly cookie; this store keeps the
 * user's profile (also in localStorage, so a reload paints at once) and is cleared on
 * logout or on any 401 from the API.
 */
export const useUserStore = defineStore('user', () => {
  const user = ref<SessionUser | null>(cached())

  const loggedIn = computed(() => user.value !== null)
  const isAdmin = computed(() => (user.value?.role ?? 0) >= ROLE_ADMIN)
  const isRoot = computed(() => (user.value?.role ?? 0) >= ROLE_ROOT)
  const displayName = computed(() => user.value?.display_name || user.value?.username || '')
  /** the account still uses the default password: the shell pushes to change it */
  const defaultPassword = computed(() => user.value?.default_password === true)

  function set(u: SessionUser | null): void {
    user.value = u
    try {
      if (u) localStorage.setItem(CACHE_KEY, JSON.stringify(u))
      else localStorage.removeItem(CACHE_KEY)
    } catch {
      /* ignore */
    }
  }

  async function login(username: string, password: string): Promise<SessionUser> {
    const u = await apiLogin(username, password)
    set(u)
    return u
  }

  /** Re-reads the profile (quota, role...) from `/api/user/self`. */
  async function refresh(): Promise<SessionUser | null> {
    const u = await getSelf()
    set({ ...(user.value ?? {}), ...u })
    return user.value
  }

  async function logout(): Promise<void> {
    try {
      await apiLogout()
    } finally {
      set(null)
    }
  }

  /** Forgets the user locally (after a 401); the server session is already gone. */
  function clear(): void {
    set(null)
  }

  return { user, loggedIn, isAdmin, isRoot, displayName, defaultPassword, set, login, refresh, logout, clear }
})
