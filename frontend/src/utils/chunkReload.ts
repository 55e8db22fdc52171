/**
 * Recovery from a failed lazy chunk load (a deploy replaced the hashed files, the web rate
 * limit tripped, a flaky network): the page reloads once, to the page the user was going to.
 * A guard in sessionStorage stops a reload loop when the chunk keeps failing.
 */
const KEY = 'onerelay.chunkReload'
/** a second failure within this window after a recovery reload is left alone */
export const GUARD_MS = 15000

const PATTERNS = [
  /Failed to fetch dynamically imported module/i,
  /error loading dynamically imported module/i,
  /Importing a module script failed/i,
  /Unable to preload CSS/i,
  /Loading (CSS )?chunk [\w-]+ failed/i,
]

/** True for the errors browsers raise when a dynamic import or module preload fails. */
export function isChunkLoadError(err: unknown): boolean {
  const msg = err instanceof Error ? `${err.name}: ${err.message}` : String(err ?? '')
  return PATTERNS.some((p) => p.test(msg))
}

interface Env {
  now: () => number
  storage: Pick<Storage, 'getItem' | 'setItem'> | null
  go: (url: string | null) => void
}

const browserEnv = (): Env => ({
  now: () => Date.now(),
  storage: (() => {
    try {
      return sessionStorage
    } catch {
      return null
    }
  })(),
  go: (url) => (url ? window.location.assign(url) : window.location.reload()),
})

/**
 * Reloads (to `target` when given) after a chunk load error, unless one reload already
 * happened within GUARD_MS. Answers whether it reloaded.
 */
export function recoverFromChunkError(err: unknown, target: string | null = null, env: Env = browserEnv()): boolean {
  if (!isChunkLoadError(err)) return false
  const last = Number(env.storage?.getItem(KEY) || 0)
  const now = env.now()
  if (last && now - last < GUARD_MS) return false
  try {
    env.storage?.setItem(KEY, String(now))
  } catch {
    /* without storage the guard is off: still better than a stuck page */
  }
  env.go(target)
  return true
}

interface RouterLike {
  beforeEach: (g: (to: { fullPath: string }) => void) => unknown
  afterEach: (h: (to: { fullPath: string }) => void) => unknown
  onError: (h: (err: unknown, to: { fullPath: string }) => void) => unknown
}

/**
 * Wires the recovery to Vite's preload errors (a lazy import failed) and the router's lazy
 * route failures; either way the reload goes to the page being opened.
 */
export function installChunkRecovery(router: RouterLike): void {
  let pending: string | null = null
  router.beforeEach((to) => {
    pending = to.fullPath
  })
  router.afterEach((to) => {
    // a cancelled earlier navigation ends after the next one began: keep the newer target
    if (to.fullPath === pending) pending = null
  })
  router.onError((err, to) => {
    recoverFromChunkError(err, to?.fullPath ?? pending)
  })
  if (typeof window !== 'undefined') {
    // a navigation that failed on a chunk rejects its router.push promise as well: the router's
    // onError above recovers, so that rejection is handled, not an uncaught error
    window.addEventListener('unhandledrejection', (e) => {
      if (isChunkLoadError(e.reason) || /Couldn't resolve component/.test(String(e.reason?.message ?? e.reason ?? ''))) {
        e.preventDefault()
      }
    })
    window.addEventListener('vite:preloadError', (e) => {
      const ev = e as Event & { payload?: unknown }
      // reloading: Vite must not rethrow; otherwise (guard) the error goes on to the router/caller
      if (recoverFromChunkError(ev.payload ?? new Error('Unable to preload CSS'), pending)) ev.preventDefault()
    })
  }
}
