import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import {
  createChannel,
  deleteChannel,
  deleteDisabledChannels,
  getChannel,
  listAllModels,
  listChannels,
  listGroups,
  searchChannels,
  testAllChannels,
  testChannel,
  updateAllChannelBalances,
  updateChannel,
  updateChannelBalance,
} from '@/api/channel'
import {
  formatBalance,
  cleanErrorText,
  formatDuration,
  isHttpUrl,
  keyLines,
  normalizeNames,
  parseConfig,
  speedLevel,
  splitCsv,
  stringifyConfig,
  unroutedMappingKeys,
  validateModelMapping,
} from '@/pages/channel/channelForm'

/** Stubs fetch with one JSON answer per call (the last one repeats). */
function stub(...bodies: unknown[]) {
  const f = vi.fn()
  for (const b of bodies) f.mockResolvedValueOnce(new Response(JSON.stringify(b), { status: 200 }))
  f.mockResolvedValue(new Response(JSON.stringify(bodies[bodies.length - 1]), { status: 200 }))
  vi.stubGlobal('fetch', f)
  return f
}
const ok = (data?: unknown, extra: Record<string, unknown> = {}) => ({ success: true, message: '', data, ...extra })
function call(f: ReturnType<typeof vi.fn>, i = 0) {
  const [url, init] = f.mock.calls[i] as [string, RequestInit]
  return { url, method: init.method, body: init.body === undefined ? undefined : JSON.parse(String(init.body)) }
}

afterEach(() => vi.unstubAllGlobals())

describe('api/channel', () => {
  it('lists a page with the 0-based p', async () => {
    const f = stub(ok([{ id: 3 }]))
    await expect(listChannels(2)).resolves.toEqual([{ id: 3 }])
    expect(call(f)).toEqual({ url: '/api/channel/?p=2', method: 'GET', body: undefined })
    await listChannels(0)
    expect(call(f, 1).url).toBe('/api/channel/?p=0')
  })

  it('searches by keyword (encoded)', async () => {
    const f = stub(ok([]))
    await searchChannels('sk-a b')
    expect(call(f)).toMatchObject({ url: '/api/channel/search?keyword=sk-a+b', method: 'GET' })
  })

  it('gets one channel', async () => {
    const f = stub(ok({ id: 7, name: 'x' }))
    await expect(getChannel(7)).resolves.toMatchObject({ id: 7 })
    expect(call(f)).toMatchObject({ url: '/api/channel/7', method: 'GET' })
  })

  it('creates with key_mode and normalises {id} and {ids}', async () => {
    const f = stub(ok({ id: 4 }), ok({ ids: [5, 6] }))
    const body = { type: 1, name: 'a', key: 'k1', models: 'gpt-4', group: 'default' }
    await expect(createChannel(body)).resolves.toEqual({ ids: [4] })
    expect(call(f)).toEqual({ url: '/api/channel/', method: 'POST', body: { ...body, key_mode: 'split' } })
    await expect(createChannel({ ...body, key: 'k1\nk2' }, 'rotate')).resolves.toEqual({ ids: [5, 6] })
    expect(call(f, 1).body.key_mode).toBe('rotate')
    expect(call(f, 1).body.key).toBe('k1\nk2')
  })

  it('updates partially with PUT and returns the stored channel', async () => {
    const f = stub(ok({ id: 9, priority: 5 }))
    await expect(updateChannel({ id: 9, priority: 5 })).resolves.toMatchObject({ priority: 5 })
    expect(call(f)).toEqual({ url: '/api/channel/', method: 'PUT', body: { id: 9, priority: 5 } })
  })

  it('surfaces the server validation message', async () => {
    stub({ success: false, message: 'models is required: list the models this channel serves' })
    const err = await createChannel({ type: 1, key: 'k' }).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toBe('models is required: list the models this channel serves')
  })

  it('deletes one and the disabled ones', async () => {
    const f = stub(ok(), ok(3))
    await deleteChannel(12)
    expect(call(f)).toMatchObject({ url: '/api/channel/12', method: 'DELETE' })
    await expect(deleteDisabledChannels()).resolves.toBe(3)
    expect(call(f, 1)).toMatchObject({ url: '/api/channel/disabled', method: 'DELETE' })
  })

  it('tests one channel: success carries time and model', async () => {
    const f = stub({ success: true, message: 'Hello!', time: 1.234, modelName: 'gpt-4o' })
    await expect(testChannel(3, 'gpt-4o')).resolves.toEqual({ success: true, message: 'Hello!', time: 1.234, modelName: 'gpt-4o' })
    expect(call(f)).toMatchObject({ url: '/api/channel/test/3?model=gpt-4o', method: 'GET' })
  })

  it('tests one channel: the default model leaves the query out', async () => {
    const f = stub({ success: true, message: '', time: 0.5, modelName: 'gpt-3.5-turbo' })
    await testChannel(3)
    expect(call(f).url).toBe('/api/channel/test/3')
  })

  it('tests one channel: a failed test is a result, not an exception', async () => {
    stub({ success: false, message: 'HTTP 401: Incorrect API key provided', time: 0.2, modelName: 'gpt-4o' })
    await expect(testChannel(3, 'gpt-4o')).resolves.toMatchObject({
      success: false,
      message: 'HTTP 401: Incorrect API key provided',
      modelName: 'gpt-4o',
    })
  })

  it('tests one channel: a lost session still throws', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(JSON.stringify({ success: false, message: 'Not logged in' }), { status: 401 })))
    await expect(testChannel(3)).rejects.toMatchObject({ status: 401 })
  })

  it('starts the bulk test with a scope and returns the message', async () => {
    const f = stub(ok(undefined, { message: 'Testing all channels in the background' }))
    await expect(testAllChannels()).resolves.toBe('Testing all channels in the background')
    expect(call(f)).toMatchObject({ url: '/api/channel/test?scope=all', method: 'GET' })
    await testAllChannels('disabled')
    expect(call(f, 1).url).toBe('/api/channel/test?scope=disabled')
  })

  it('reads the top-level balance of update_balance', async () => {
    const f = stub({ success: true, message: '', balance: 12.5 })
    await expect(updateChannelBalance(4)).resolves.toBe(12.5)
    expect(call(f)).toMatchObject({ url: '/api/channel/update_balance/4', method: 'GET' })
  })

  it('update_balance errors throw the provider message', async () => {
    stub({ success: false, message: 'balance queries are not supported for channel type Anthropic' })
    await expect(updateChannelBalance(4)).rejects.toThrow('balance queries are not supported for channel type Anthropic')
  })

  it('starts the bulk balance update', async () => {
    const f = stub(ok(undefined, { message: 'Updating the balances of all enabled channels in the background' }))
    await expect(updateAllChannelBalances()).resolves.toMatch(/background/)
    expect(call(f)).toMatchObject({ url: '/api/channel/update_balance', method: 'GET' })
  })

  it('lists all models and groups', async () => {
    const f = stub(
      ok([{ id: 'gpt-4', object: 'model', created: 1, owned_by: 'openai' }, { id: 'claude-3', object: 'model', created: 1, owned_by: 'anthropic' }], { object: 'list' }),
      ok(['default', 'vip']),
    )
    await expect(listAllModels()).resolves.toEqual(['gpt-4', 'claude-3'])
    expect(call(f, 0).url).toBe('/api/channel/models')
    await expect(listGroups()).resolves.toEqual(['default', 'vip'])
    expect(call(f, 1).url).toBe('/api/group/')
  })
})

describe('validateModelMapping', () => {
  it('accepts empty text and string → string objects', () => {
    expect(validateModelMapping('')).toEqual({ ok: true, value: {} })
    expect(validateModelMapping('  ')).toEqual({ ok: true, value: {} })
    expect(validateModelMapping('{}')).toEqual({ ok: true, value: {} })
    expect(validateModelMapping('{"gpt-4": "gpt-4-0613"}')).toEqual({ ok: true, value: { 'gpt-4': 'gpt-4-0613' } })
  })
  it('rejects broken JSON with a readable message', () => {
    const r = validateModelMapping('{"gpt-4": ')
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toMatch(/^Not valid JSON/)
  })
  it('rejects arrays, strings and null', () => {
    for (const t of ['[]', '"x"', 'null', '42']) {
      const r = validateModelMapping(t)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error).toMatch(/JSON object/)
    }
  })
  it('rejects non-string and empty values', () => {
    const a = validateModelMapping('{"gpt-4": 1}')
    expect(a.ok).toBe(false)
    if (!a.ok) expect(a.error).toBe('The value of "gpt-4" must be a model name in quotes')
    const b = validateModelMapping('{"gpt-4": ""}')
    expect(b.ok).toBe(false)
    const c = validateModelMapping('{"": "x"}')
    expect(c.ok).toBe(false)
  })
})

describe('channel form helpers', () => {
  it('splits CSV and pasted names', () => {
    expect(splitCsv(' a, b,,a ,c ')).toEqual(['a', 'b', 'c'])
    expect(splitCsv('')).toEqual([])
    expect(normalizeNames(['gpt-4', 'a, b', 'c\nd', 'gpt-4'])).toEqual(['gpt-4', 'a', 'b', 'c', 'd'])
  })
  it('counts key lines', () => {
    expect(keyLines('k1\n\n  k2 \r\nk3\n')).toEqual(['k1', 'k2', 'k3'])
    expect(keyLines('')).toEqual([])
  })
  it('parses and writes config tolerantly', () => {
    expect(parseConfig('{"region":"us-east-1","n":1}')).toEqual({ region: 'us-east-1', n: 1 })
    expect(parseConfig('not json')).toEqual({})
    expect(parseConfig('[1]')).toEqual({})
    expect(parseConfig('')).toEqual({})
    expect(stringifyConfig({ api_version: ' 2024-10-21 ', ak: '', keep: 3 })).toBe('{"api_version":"2024-10-21","keep":3}')
    expect(stringifyConfig({ ak: '' })).toBe('')
  })
  it('checks URLs like the server', () => {
    expect(isHttpUrl('https://api.openai.com')).toBe(true)
    expect(isHttpUrl('http://10.0.0.1:8000/v1')).toBe(true)
    expect(isHttpUrl('api.openai.com')).toBe(false)
    expect(isHttpUrl('ftp://x')).toBe(false)
  })
  it('finds mapped models missing from Models', () => {
    expect(unroutedMappingKeys({ 'gpt-4': 'x', 'gpt-3.5-turbo': 'y' }, ['gpt-3.5-turbo'])).toEqual(['gpt-4'])
  })
  it('grades and formats response times and balances', () => {
    expect(speedLevel(0)).toBe('untested')
    expect(speedLevel(300)).toBe('fast')
    expect(speedLevel(1500)).toBe('ok')
    expect(speedLevel(4000)).toBe('slow')
    expect(speedLevel(9000)).toBe('very-slow')
    expect(formatDuration(850)).toBe('850 ms')
    expect(formatDuration(1234)).toBe('1.23 s')
    expect(formatDuration(0)).toBe('-')
    expect(formatDuration(0, true)).toBe('< 1 ms')
    expect(formatBalance(1234.5, 'USD')).toBe('$1,234.50')
    expect(formatBalance(3, 'CNY')).toBe('¥3.00')
  })
})

describe('cleanErrorText', () => {
  it('shows an HTML page as its status and title, never its tags', () => {
    expect(cleanErrorText('the balance endpoint answered HTTP 404: <html><title>404: Not Found</title><body>404: Not Found</body></html>'))
      .toBe('the balance endpoint answered HTTP 404 (404: Not Found)')
    expect(cleanErrorText('HTTP 502: <!DOCTYPE html><html><head></head><body><h1>Bad gateway</h1></body></html>')).toBe('HTTP 502 (Bad gateway)')
    expect(cleanErrorText('<html><body>oops</body></html>')).toBe('HTTP ?')
    expect(cleanErrorText('HTTP 401: invalid api key')).toBe('HTTP 401: invalid api key')
    expect(cleanErrorText('a < b and c > d')).toBe('a < b and c > d')
  })
})
