import { describe, expect, it, vi, afterEach } from 'vitest'
import type { RouteMeta } from 'vue-router'
import { compactNumber, displayToQuota, formatQuota, quotaToDisplay } from '@/utils/quota'
import { formatTime, relativeTime } from '@/utils/time'
import { isUrl, renderMarkdown, sanitizeHtml } from '@/utils/markdown'
import { guard } from '@/router'
import { usePagedList } from '@/composables/usePagedList'

const usd = { currency: true, perUnit: 500000 }
const tokens = { currency: false, perUnit: 500000 }

describe('quota display', () => {
  it('formats USD and tokens', () => {
    expect(formatQuota(500000, usd)).toBe('$1.00')
    expect(formatQuota(1234567890, usd)).toBe('$2,469.14')
    expect(formatQuota(1234567, tokens)).toBe('1,234,567')
    expect(formatQuota(0, usd)).toBe('$0.00')
  })
  it('keeps tiny amounts visible', () => {
    expect(formatQuota(3, usd)).toBe('$0.000006')
  })
  it('converts to and from the edit unit', () => {
    expect(quotaToDisplay(750000, usd)).toBe(1.5)
    expect(displayToQuota(1.5, usd)).toBe(750000)
    expect(displayToQuota(12.7, tokens)).toBe(13)
    expect(displayToQuota(null, usd)).toBe(0)
  })
  it('compacts counts', () => {
    expect(compactNumber(999)).toBe('999')
    expect(compactNumber(1500)).toBe('1.5K')
    expect(compactNumber(2_000_000)).toBe('2M')
    expect(compactNumber(12_300_000_000)).toBe('12B')
    expect(compactNumber(999_999_999)).toBe('1B')
    expect(compactNumber(999_960)).toBe('1M')
    expect(compactNumber(999.7)).toBe('1K')
  })
})

describe('time', () => {
  it('formats unix seconds and the empty value', () => {
    expect(formatTime(0)).toBe('-')
    expect(formatTime(-1)).toBe('-')
    expect(formatTime(1700000000)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  })
  it('relative times', () => {
    expect(relativeTime(1000, 1030)).toBe('just now')
    expect(relativeTime(1000, 1000 + 300)).toBe('5 min ago')
    expect(relativeTime(1000, 1000 + 7200)).toBe('2 h ago')
  })
})

describe('markdown', () => {
  it('renders and sanitizes', () => {
    const html = renderMarkdown('# Hi\n<img src=x onerror="alert(1)"><script>alert(2)</script>[a](javascript:alert(3))')
    expect(html).toContain('<h1>Hi</h1>')
    expect(html).not.toContain('onerror')
    expect(html).not.toContain('<script')
    expect(html).not.toContain('javascript:')
    expect(sanitizeHtml('<b>ok</b><script>x</script>')).toBe('<b>ok</b>')
  })
  it('detects URLs', () => {
    expect(isUrl('https://example.com/page')).toBe(true)
    expect(isUrl('# title')).toBe(false)
    expect(isUrl('see https://x.y')).toBe(false)
  })
})

describe('router guard', () => {
  const r = (meta: RouteMeta, fullPath = '/x') => ({ meta, fullPath })
  it('sends visitors to login with the redirect', () => {
    expect(guard(r({ auth: 'user' }, '/token'), null)).toEqual({ name: 'login', query: { redirect: '/token' } })
  })
  it('keeps common users out of admin and root pages', () => {
    expect(guard(r({ auth: 'admin' }), { role: 1 })).toEqual({ name: 'dashboard' })
    expect(guard(r({ auth: 'root' }), { role: 10 })).toEqual({ name: 'dashboard' })
    expect(guard(r({ auth: 'admin' }), { role: 10 })).toBe(true)
    expect(guard(r({ auth: 'root' }), { role: 100 })).toBe(true)
  })
  it('sends logged-in users away from login and register', () => {
    expect(guard(r({ guestOnly: true }), { role: 1 })).toEqual({ name: 'dashboard' })
    expect(guard(r({ guestOnly: true }), null)).toBe(true)
    expect(guard(r({}), null)).toBe(true)
  })
})

describe('usePagedList', () => {
  afterEach(() => vi.restoreAllMocks())
  const full = Array.from({ length: 10 }, (_, i) => i)

  it('pages 0-based and knows a next page only when the page is full', async () => {
    const fetchPage = vi.fn(async (p: number) => (p === 0 ? full : [10, 11]))
    const list = usePagedList(fetchPage)
    await list.load(0)
    expect(list.rows.value).toHaveLength(10)
    expect(list.hasNext.value).toBe(true)
    await list.next()
    expect(fetchPage).toHaveBeenLastCalledWith(1)
    expect(list.page.value).toBe(1)
    expect(list.hasNext.value).toBe(false)
    await list.next() // no next page: nothing fetched
    expect(fetchPage).toHaveBeenCalledTimes(2)
    await list.prev()
    expect(list.page.value).toBe(0)
  })

  it('search replaces the list until cleared', async () => {
    const fetchPage = vi.fn(async () => full)
    const searchFn = vi.fn(async (kw: string) => [kw.length])
    const list = usePagedList(fetchPage, searchFn)
    await list.search('abc')
    expect(searchFn).toHaveBeenCalledWith('abc')
    expect(list.rows.value).toEqual([3])
    expect(list.searching.value).toBe(true)
    expect(list.hasNext.value).toBe(false)
    await list.search('  ')
    expect(list.searching.value).toBe(false)
    expect(list.rows.value).toHaveLength(10)
  })

  it('keeps the error message and clears the rows', async () => {
    const list = usePagedList(async () => {
      throw new Error('boom')
    })
    await list.load()
    expect(list.error.value).toBe('boom')
    expect(list.rows.value).toEqual([])
    expect(list.loading.value).toBe(false)
  })

  it('a stale answer never overwrites a newer one', async () => {
    let release: (v: number[]) => void = () => {}
    const slow = new Promise<number[]>((r) => (release = r))
    const fetchPage = vi.fn((p: number) => (p === 0 ? slow : Promise.resolve([42])))
    const list = usePagedList(fetchPage)
    const first = list.load(0)
    await list.load(1)
    release(full)
    await first
    expect(list.rows.value).toEqual([42])
    expect(list.page.value).toBe(1)
  })
})
