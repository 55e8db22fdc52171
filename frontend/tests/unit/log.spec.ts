import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import { deleteLogsBefore, errorStat, listLogs, logQuery, logStat, searchLogs, LOG_TYPE_OPTIONS } from '@/api/log'
import { emptyForm, formFromQuery, formToFilters, hasFilters, typeMeta, elapsedLevel, formatElapsed } from '@/pages/log/logFormat'
import { setLocale, t } from '@/i18n'

function reply(body: unknown, status = 200) {
  return vi.fn().mockImplementation(async () => new Response(JSON.stringify(body), { status }))
}
const ok = (data: unknown) => reply({ success: true, message: '', data })
function called(f: ReturnType<typeof vi.fn>, i = 0): { url: URL; init: RequestInit } {
  const [u, init] = f.mock.calls[i]
  return { url: new URL(u as string, 'http://x'), init: init as RequestInit }
}
const log = { id: 3, type: 2, model_name: 'gpt-4o', quota: 120 }

afterEach(() => vi.unstubAllGlobals())

describe('logQuery', () => {
  it('leaves empty and zero filters out', () => {
    expect(logQuery({}, true)).toEqual({})
    expect(logQuery({ type: 0, token_name: '  ', model_name: '', channel: '', start_timestamp: 0 }, true)).toEqual({})
  })
  it('keeps admin-only filters for admins only', () => {
    const f = { type: 2, username: 'alice', channel: '7', model_name: ' gpt-4o ', token_name: 'ci' }
    expect(logQuery(f, true)).toEqual({ type: 2, username: 'alice', channel: 7, model_name: 'gpt-4o', token_name: 'ci' })
    expect(logQuery(f, false)).toEqual({ type: 2, model_name: 'gpt-4o', token_name: 'ci' })
  })
  it('floors timestamps', () => {
    expect(logQuery({ start_timestamp: 100.7, end_timestamp: 200 }, false)).toEqual({ start_timestamp: 100, end_timestamp: 200 })
  })
})

describe('listLogs', () => {
  it('admins read /api/log/ with page and filters', async () => {
    const f = ok([log])
    vi.stubGlobal('fetch', f)
    await expect(listLogs(2, { type: 2, username: 'bob', model_name: 'gpt-4o', start_timestamp: 10, end_timestamp: 20 }, true)).resolves.toEqual([log])
    const { url, init } = called(f)
    expect(init.method).toBe('GET')
    expect(url.pathname).toBe('/api/log/')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      p: '2', type: '2', username: 'bob', model_name: 'gpt-4o', start_timestamp: '10', end_timestamp: '20',
    })
  })
  it('other users read /api/log/self/ without username or channel', async () => {
    const f = ok([])
    vi.stubGlobal('fetch', f)
    await listLogs(0, { username: 'bob', channel: 3, token_name: 'mine' }, false)
    const { url } = called(f)
    expect(url.pathname).toBe('/api/log/self/')
    expect(Object.fromEntries(url.searchParams)).toEqual({ p: '0', token_name: 'mine' })
  })
  it('a null data is an empty page', async () => {
    vi.stubGlobal('fetch', ok(null))
    await expect(listLogs(0)).resolves.toEqual([])
  })
  it('a server error becomes an ApiError with its message', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'end_timestamp must not be before start_timestamp' }))
    const err = await listLogs(0, {}, true).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toBe('end_timestamp must not be before start_timestamp')
  })
})

describe('logStat', () => {
  it('admin stat with the same filters, unwrapped to {quota}', async () => {
    const f = ok({ quota: 1234 })
    vi.stubGlobal('fetch', f)
    await expect(logStat({ model_name: 'gpt-4o', channel: 2 }, true)).resolves.toEqual({ quota: 1234 })
    const { url } = called(f)
    expect(url.pathname).toBe('/api/log/stat')
    expect(Object.fromEntries(url.searchParams)).toEqual({ model_name: 'gpt-4o', channel: '2' })
  })
  it('self stat, no query when no filters, missing quota → 0', async () => {
    const f = ok({})
    vi.stubGlobal('fetch', f)
    await expect(logStat({}, false)).resolves.toEqual({ quota: 0 })
    expect(f.mock.calls[0][0]).toBe('/api/log/self/stat')
  })
})

describe('searchLogs and deleteLogsBefore', () => {
  it('search goes to the admin or self endpoint with the keyword', async () => {
    const f = ok([log])
    vi.stubGlobal('fetch', f)
    await searchLogs(' 2 ', true)
    await searchLogs('2', false)
    expect(f.mock.calls[0][0]).toBe('/api/log/search?keyword=2')
    expect(f.mock.calls[1][0]).toBe('/api/log/self/search?keyword=2')
  })
  it('delete sends DELETE with target_timestamp and returns the count', async () => {
    const f = ok(42)
    vi.stubGlobal('fetch', f)
    await expect(deleteLogsBefore(1700000000.9)).resolves.toBe(42)
    const { url, init } = called(f)
    expect(init.method).toBe('DELETE')
    expect(url.pathname + url.search).toBe('/api/log/?target_timestamp=1700000000')
  })
})

describe('logFormat helpers', () => {
  it('type options and tags', () => {
    expect(LOG_TYPE_OPTIONS.map((o) => t(o.label))).toEqual(['All', 'Top-up', 'Consume', 'Manage', 'System', 'Test', 'Error'])
    expect(typeMeta(2)).toEqual({ label: 'Consume', tag: 'info' })
    expect(typeMeta(1).tag).toBe('success')
    expect(typeMeta(99).label).toBe('Unknown')
  })
  it('type labels follow the console language', () => {
    setLocale('zh-CN', false)
    try {
      expect(LOG_TYPE_OPTIONS.map((o) => t(o.label))).toEqual(['全部', '充值', '消费', '管理', '系统', '测试', '错误'])
      expect(typeMeta(2)).toEqual({ label: '消费', tag: 'info' })
      expect(formatElapsed(12345)).toBe('12,345 ms')
    } finally {
      setLocale('en', false)
    }
  })
  it('elapsed', () => {
    expect(formatElapsed(12345)).toBe('12,345 ms')
    expect(elapsedLevel(500)).toBe('success')
    expect(elapsedLevel(5000)).toBe('warning')
    expect(elapsedLevel(20000)).toBe('error')
  })
  it('form → filters: ms range to seconds, empty values dropped', () => {
    expect(formToFilters(emptyForm())).toEqual({})
    const f = { ...emptyForm(), type: 2, range: [1700000000500, 1700003600999] as [number, number], model_name: ' gpt-4o ', channel: '12', username: '' }
    expect(formToFilters(f)).toEqual({ type: 2, start_timestamp: 1700000000, end_timestamp: 1700003600, model_name: 'gpt-4o', channel: 12 })
    expect(formToFilters({ ...emptyForm(), channel: 'abc' })).toEqual({})
  })
  it('hasFilters and formFromQuery', () => {
    expect(hasFilters({})).toBe(false)
    expect(hasFilters({ model_name: 'x' })).toBe(true)
    const f = formFromQuery({ type: '2', model_name: 'gpt-4o', channel: 'x', token_name: ['a', 'b'] })
    expect(f).toMatchObject({ type: 2, model_name: 'gpt-4o', channel: '', token_name: 'a', range: null })
    expect(formFromQuery({ type: '9' }).type).toBe(0)
  })
})

describe('errorStat', () => {
  it('reads /api/log/error_stat and fills missing names and ids', async () => {
    const f = ok({ days: 7, channels: [{ channel_id: '4', requests: 10, errors: 1, error_rate: 0.1 }], models: [{ requests: 2, errors: 0, error_rate: 0 }] })
    vi.stubGlobal('fetch', f)
    const s = await errorStat(3)
    expect(called(f).url.pathname).toBe('/api/log/error_stat')
    expect(called(f).url.searchParams.get('days')).toBe('3')
    expect(s.days).toBe(7)
    expect(s.channels[0]).toMatchObject({ channel_id: 4, channel_name: '', requests: 10 })
    expect(s.models[0].model_name).toBe('')
  })
  it('an empty reply is no rows for the asked days', async () => {
    vi.stubGlobal('fetch', ok(null))
    await expect(errorStat(7)).resolves.toEqual({ days: 7, channels: [], models: [] })
  })
})

describe('plural messages', () => {
  it('settings JSON fields count entries in the singular and the plural', () => {
    setLocale('en', false)
    expect(t('setting.card.entries', { count: 0 })).toBe('0 entries')
    expect(t('setting.card.entries', { count: 1 })).toBe('1 entry')
    expect(t('setting.card.entries', { count: 3 })).toBe('3 entries')
    setLocale('zh-CN', false)
    expect(t('setting.card.entries', { count: 1 })).toBe('共 1 项')
    setLocale('en', false)
  })
})
