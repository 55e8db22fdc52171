import { describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { isChunkLoadError, recoverFromChunkError, GUARD_MS } from '@/utils/chunkReload'
import { noticeHash, noticeIsNew, markNoticeSeen } from '@/utils/notice'
import { pickExampleModel } from '@/pages/dashboard/quickStartModel'
import { isFirstVisit } from '@/pages/dashboard/firstVisit'
import { createDirtyRegistry } from '@/composables/useOptions'

function memStorage() {
  const m = new Map<string, string>()
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) }
}

describe('chunk load recovery', () => {
  it('knows the browsers’ chunk errors', () => {
    expect(isChunkLoadError(new TypeError('Failed to fetch dynamically imported module: http://x/assets/A.js'))).toBe(true)
    expect(isChunkLoadError(new Error('Unable to preload CSS for /assets/a.css'))).toBe(true)
    expect(isChunkLoadError(new TypeError('Importing a module script failed.'))).toBe(true)
    expect(isChunkLoadError(new Error('boom'))).toBe(false)
  })
  it('reloads once to the target, then not again within the guard', () => {
    const storage = memStorage()
    const go = vi.fn()
    let now = 1_000_000
    const env = { now: () => now, storage, go }
    const err = new TypeError('Failed to fetch dynamically imported module: x')
    expect(recoverFromChunkError(err, '/login', env)).toBe(true)
    expect(go).toHaveBeenCalledWith('/login')
    now += 1000
    expect(recoverFromChunkError(err, '/login', env)).toBe(false)
    now += GUARD_MS
    expect(recoverFromChunkError(err, null, env)).toBe(true)
    expect(go).toHaveBeenLastCalledWith(null)
    expect(recoverFromChunkError(new Error('other'), '/x', env)).toBe(false)
  })
})

describe('notice', () => {
  it('is new until the same text was closed', () => {
    localStorage.clear()
    expect(noticeIsNew('')).toBe(false)
    expect(noticeIsNew('Maintenance tonight')).toBe(true)
    markNoticeSeen('Maintenance tonight')
    expect(noticeIsNew('Maintenance tonight ')).toBe(false)
    expect(noticeIsNew('Maintenance on Friday')).toBe(true)
    expect(noticeHash('a')).not.toBe(noticeHash('b'))
  })
})

describe('quick start model', () => {
  it('prefers a small chat model the group can call; null when none', () => {
    expect(pickExampleModel(['text-embedding-3-small', 'gpt-4o', 'gpt-4o-mini'])).toBe('gpt-4o-mini')
    expect(pickExampleModel(['dall-e-3', 'claude-3-5-haiku', 'claude-3-opus'])).toBe('claude-3-5-haiku')
    expect(pickExampleModel(['my-model'])).toBe('my-model')
    expect(pickExampleModel([])).toBeNull()
  })
})

describe('first dashboard visit', () => {
  it('is first once per user', () => {
    const s = memStorage()
    expect(isFirstVisit(7, s)).toBe(true)
    expect(isFirstVisit(7, s)).toBe(false)
    expect(isFirstVisit(8, s)).toBe(true)
    expect(isFirstVisit(0, s)).toBe(false)
  })
})

describe('unsaved settings', () => {
  it('lists the cards with unsaved changes', () => {
    const r = createDirtyRegistry()
    let n = 0
    r.register('ratios', () => n, () => 'Ratios')
    r.register('general', () => 0, () => 'General')
    expect(r.dirty()).toEqual([])
    n = 2
    expect(r.dirty()).toEqual(['Ratios'])
    r.unregister('ratios')
    expect(r.dirty()).toEqual([])
  })
})

describe('theme', () => {
  it('follows the system, live, until the user picks one', async () => {
    localStorage.clear()
    let listener: ((e: { matches: boolean }) => void) | null = null
    const mq = { matches: true, addEventListener: (_: string, l: (e: { matches: boolean }) => void) => (listener = l) }
    vi.stubGlobal('matchMedia', () => mq)
    window.matchMedia = (() => mq) as unknown as typeof window.matchMedia
    vi.resetModules()
    const { useThemeStore } = await import('@/stores/theme')
    setActivePinia(createPinia())
    const theme = useThemeStore()
    expect(theme.dark).toBe(true)
    expect(theme.followsSystem).toBe(true)
    listener!({ matches: false })
    expect(theme.dark).toBe(false)
    theme.toggle()
    expect(theme.dark).toBe(true)
    expect(localStorage.getItem('onerelay.theme')).toBe('dark')
    listener!({ matches: false })
    expect(theme.dark).toBe(true) // the pick wins
    vi.unstubAllGlobals()
  })
})
