import { describe, expect, it, vi, afterEach } from 'vitest'
import type { RouteMeta } from 'vue-router'
import { compactNumber, displayToQuota, formatQuota, quotaToDisplay } from '@/utils/quota'
import { formatTime, relativeTime } from '@/utils/time'
import { isUrl, renderMarkdown, sanitizeHtml } from '@/utils/markdown'
import { guard } from '@/router'
import { usePagedList } from '@/composables/usePagedList'
import { setLocale } from '@/i18n'
import { countText, formatNumber } from '@/utils/format'
import { statusInfo } from '@/components/StatusTag.vue'
import { routes } from '@/router/routes'
import { t } from '@/i18n'
import { useQuota } from '@/composables/useQuota'
import { createPinia, setActivePinia } from 'pinia'

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

describe('zh-CN formats', () => {
  afterEach(() => setLocale('en', false))

  it('quota, counts and compact numbers follow the language; exact values stay available', () => {
    setLocale('zh-CN', false)
    expect(formatQuota(1234567890, usd)).toBe('$2,469.14')
    expect(formatQuota(1234567, tokens)).toBe('1,234,567')
    expect(compactNumber(999)).toBe('999')
    expect(compactNumber(12_345)).toBe('1.2万')
    expect(compactNumber(2_000_000)).toBe('200万')
    expect(compactNumber(999_999_999)).toBe('10亿')
    expect(compactNumber(12_300_000_000)).toBe('123亿')
    expect(formatNumber(1234567)).toBe('1,234,567')
    // an explicit locale wins over the current one
    expect(compactNumber(1500, 'en')).toBe('1.5K')
    expect(compactNumber(12_345, 'zh-CN')).toBe('1.2万')
  })

  it('relative times in Chinese', () => {
    setLocale('zh-CN', false)
    expect(relativeTime(1000, 1030)).toBe('刚刚')
    expect(relativeTime(1000, 1000 + 180)).toBe('3 分钟前')
    expect(relativeTime(1000, 1000 + 7200)).toBe('2 小时前')
    expect(relativeTime(1000, 1000 + 86400 * 3)).toBe('3 天前')
    expect(formatTime(1700000000)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
  })

  it('counted messages: English plural, Chinese counter, grouped numbers', () => {
    expect(countText('common.units.request', 1)).toBe('1 request')
    expect(countText('common.units.request', 1200)).toBe('1,200 requests')
    expect(countText('common.units.request', 0)).toBe('0 requests')
    setLocale('zh-CN', false)
    expect(countText('common.units.request', 1200)).toBe('1,200 次请求')
    expect(countText('common.units.model', 1)).toBe('1 个模型')
  })

  it('status tags, route titles and the quota unit are translated', () => {
    expect(statusInfo('token', 1)).toEqual(['Enabled', 'success'])
    expect(statusInfo('role', 100)).toEqual(['Root', 'error'])
    expect(statusInfo('user', 9)).toEqual(['Unknown (9)', 'default'])
    setActivePinia(createPinia())
    const q = useQuota()
    setLocale('zh-CN', false)
    expect(statusInfo('token', 1)).toEqual(['已启用', 'success'])
    expect(statusInfo('redemption', 3)).toEqual(['已使用', 'info'])
    expect(statusInfo('role', 100)[0]).toBe('超级管理员')
    expect(statusInfo('user', 9)[0]).toBe('未知（9）')
    const titles = routes.filter((r) => r.meta?.title).map((r) => t(r.meta!.title!))
    expect(titles).toContain('仪表盘')
    expect(titles).toContain('渠道')
    expect(titles.every((x) => !x.startsWith('shell.'))).toBe(true)
    expect(q.compact(25_000)).toBe('2.5万')
    expect(q.number(1234)).toBe('1,234')
  })
})
