import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import { deleteLogsBefore, getOptionMap, getOptions, optionString, updateOption } from '@/api/option'
import {
  bindEmail,
  bindWeChat,
  deleteSelf,
  generateAccessToken,
  getAffCode,
  inviteLink,
  updateSelf,
} from '@/api/self'
import {
  changedKeys,
  fieldError,
  formatJson,
  fromDraft,
  isSecretKey,
  saveOptions,
  toDraft,
  validateRatioJson,
  type OptionField,
} from '@/composables/useOptions'

function reply(body: unknown, status = 200) {
  return vi.fn().mockImplementation(async () => new Response(JSON.stringify(body), { status }))
}
const ok = (data?: unknown) => reply({ success: true, message: '', data })

function call(f: ReturnType<typeof vi.fn>, i = 0) {
  const [url, init] = f.mock.calls[i] as [string, RequestInit]
  return { url, method: init.method, body: init.body ? JSON.parse(init.body as string) : undefined }
}

afterEach(() => vi.unstubAllGlobals())

describe('api/option', () => {
  it('optionString stringifies booleans and numbers', () => {
    expect(optionString(true)).toBe('true')
    expect(optionString(false)).toBe('false')
    expect(optionString(0)).toBe('0')
    expect(optionString(0.5)).toBe('0.5')
    expect(optionString('x')).toBe('x')
    expect(optionString(null)).toBe('')
  })

  it('getOptions lists and getOptionMap maps', async () => {
    const f = ok([{ key: 'SystemName', value: 'Relay' }, { key: 'RetryTimes', value: '2' }])
    vi.stubGlobal('fetch', f)
    expect(await getOptions()).toHaveLength(2)
    expect(call(f)).toMatchObject({ url: '/api/option/', method: 'GET', body: undefined })
    expect(await getOptionMap()).toEqual({ SystemName: 'Relay', RetryTimes: '2' })
  })

  it('updateOption PUTs the key and the value as a string', async () => {
    const f = ok()
    vi.stubGlobal('fetch', f)
    await updateOption('DisplayInCurrencyEnabled', false)
    await updateOption('QuotaPerUnit', 1000)
    expect(call(f, 0)).toEqual({ url: '/api/option/', method: 'PUT', body: { key: 'DisplayInCurrencyEnabled', value: 'false' } })
    expect(call(f, 1).body).toEqual({ key: 'QuotaPerUnit', value: '1000' })
  })

  it('updateOption throws the server message', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'ModelRatio is not valid JSON: x' }))
    const err = await updateOption('ModelRatio', '{').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).message).toBe('ModelRatio is not valid JSON: x')
  })

  it('deleteLogsBefore sends target_timestamp in whole seconds and returns the count', async () => {
    const f = ok(42)
    vi.stubGlobal('fetch', f)
    expect(await deleteLogsBefore(1700000000.9)).toBe(42)
    expect(call(f)).toMatchObject({ url: '/api/log/?target_timestamp=1700000000', method: 'DELETE' })
  })
})

describe('api/self', () => {
  it('updateSelf sends only the given fields', async () => {
    const f = ok()
    vi.stubGlobal('fetch', f)
    await updateSelf({ password: 'new-pass-123' })
    expect(call(f)).toEqual({ url: '/api/user/self', method: 'PUT', body: { password: 'new-pass-123' } })
    await updateSelf({ username: 'bob', display_name: '', password: '' })
    expect(call(f, 1).body).toEqual({ username: 'bob', display_name: '' })
  })

  it('updateSelf surfaces a taken username', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'That username is already taken' }))
    await expect(updateSelf({ username: 'root' })).rejects.toThrow('That username is already taken')
  })

  it('generateAccessToken, getAffCode, deleteSelf', async () => {
    const f = ok('0123456789abcdef0123456789abcdef')
    vi.stubGlobal('fetch', f)
    expect(await generateAccessToken()).toBe('0123456789abcdef0123456789abcdef')
    expect(call(f)).toMatchObject({ url: '/api/user/token', method: 'GET' })
    await getAffCode()
    expect(call(f, 1)).toMatchObject({ url: '/api/user/aff', method: 'GET' })
    await deleteSelf()
    expect(call(f, 2)).toMatchObject({ url: '/api/user/self', method: 'DELETE' })
  })

  it('deleteSelf refuses root with the server message', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'The root user cannot be deleted' }))
    await expect(deleteSelf()).rejects.toThrow('The root user cannot be deleted')
  })

  it('bindings pass email and code in the query, trimmed', async () => {
    const f = ok()
    vi.stubGlobal('fetch', f)
    await bindEmail(' a@b.co ', ' ABC123 ')
    expect(call(f).url).toBe('/api/oauth/email/bind?email=a%40b.co&code=ABC123')
    await bindWeChat('778899')
    expect(call(f, 1).url).toBe('/api/oauth/wechat/bind?code=778899')
  })

  it('inviteLink', () => {
    expect(inviteLink('https://relay.example.com/', 'Ab1c')).toBe('https://relay.example.com/register?aff=Ab1c')
  })
})

describe('option drafts', () => {
  const fields: OptionField[] = [
    { key: 'DisplayInCurrencyEnabled', label: 'Show quotas in USD', kind: 'switch' },
    { key: 'QuotaPerUnit', label: 'Quota per unit', kind: 'number', min: 0.000001 },
    { key: 'RetryTimes', label: 'Retry times', kind: 'int', min: 0 },
    { key: 'TopUpLink', label: 'Top-up link', kind: 'url' },
    { key: 'EmailDomainWhitelist', label: 'Allowed email domains', kind: 'tags' },
    { key: 'SMTPToken', label: 'SMTP password', kind: 'secret' },
    { key: 'GroupRatio', label: 'Group ratio', kind: 'json' },
  ]
  const stored: Record<string, string> = {
    DisplayInCurrencyEnabled: 'true',
    QuotaPerUnit: '500000.0',
    RetryTimes: '0',
    TopUpLink: '',
    EmailDomainWhitelist: 'gmail.com, qq.com',
    GroupRatio: '{"default": 1}',
  }
  const draftOf = () => Object.fromEntries(fields.map((f) => [f.key, toDraft(f.kind, stored[f.key])]))

  it('round-trips stored strings', () => {
    expect(toDraft('switch', 'true')).toBe(true)
    expect(toDraft('switch', 'false')).toBe(false)
    expect(toDraft('number', '500000.0')).toBe(500000)
    expect(toDraft('int', '')).toBeNull()
    expect(toDraft('tags', 'a.com, b.com,,')).toEqual(['a.com', 'b.com'])
    expect(toDraft('secret', undefined)).toBe('')
    expect(fromDraft('switch', false)).toBe('false')
    expect(fromDraft('int', 3)).toBe('3')
    expect(fromDraft('number', null)).toBe('')
    expect(fromDraft('tags', [' a.com', 'b.com '])).toBe('a.com,b.com')
    expect(fromDraft('url', ' https://x.io ')).toBe('https://x.io')
  })

  it('an untouched draft has no changes (even "500000.0" vs 500000)', () => {
    expect(changedKeys(fields, stored, draftOf())).toEqual([])
  })

  it('lists exactly the edited keys', () => {
    const d = draftOf()
    d.QuotaPerUnit = 1000
    d.EmailDomainWhitelist = ['gmail.com', 'qq.com', 'example.com']
    d.GroupRatio = '{"default": 1, "vip": 2}'
    expect(changedKeys(fields, stored, d)).toEqual(['QuotaPerUnit', 'EmailDomainWhitelist', 'GroupRatio'])
  })

  it('a secret counts only when typed', () => {
    const d = draftOf()
    d.SMTPToken = '   '
    expect(changedKeys(fields, stored, d)).toEqual([])
    d.SMTPToken = 'hunter2'
    expect(changedKeys(fields, stored, d)).toEqual(['SMTPToken'])
    expect(isSecretKey('SMTPToken')).toBe(true)
    expect(isSecretKey('TurnstileSecretKey')).toBe(true)
    expect(isSecretKey('GitHubClientSecret')).toBe(true)
    expect(isSecretKey('GitHubClientId')).toBe(false)
  })
})

describe('ratio JSON', () => {
  it('accepts an object of non-negative numbers', () => {
    expect(validateRatioJson('{"gpt-4o": 2.5, "free": 0}')).toBe('')
    expect(validateRatioJson('{}')).toBe('')
  })
  it('rejects what the server rejects', () => {
    expect(validateRatioJson('{"gpt-4o": ')).toMatch(/^Not valid JSON/)
    expect(validateRatioJson('[1, 2]')).toMatch(/JSON object/)
    expect(validateRatioJson('null')).toMatch(/JSON object/)
    expect(validateRatioJson('{"a": "1"}')).toBe('"a" must be a number')
    expect(validateRatioJson('{"a": -1}')).toBe('"a" must not be negative')
    expect(validateRatioJson('{"a": true}')).toBe('"a" must be a number')
  })
  it('formats with two-space indents and throws on bad JSON', () => {
    expect(formatJson('{"a":1,"b":2}')).toBe('{\n  "a": 1,\n  "b": 2\n}')
    expect(() => formatJson('{')).toThrow()
  })
  it('fieldError checks numbers and JSON', () => {
    const int: OptionField = { key: 'RetryTimes', label: 'Retry times', kind: 'int', min: 0 }
    expect(fieldError(int, null)).toBe('Retry times is required')
    expect(fieldError(int, -1)).toBe('Retry times must be at least 0')
    expect(fieldError(int, 1.5)).toBe('Retry times must be a whole number')
    expect(fieldError(int, 3)).toBe('')
    expect(fieldError({ key: 'ModelRatio', label: 'Model ratio', kind: 'json' }, '{')).toMatch(/^Not valid JSON/)
    expect(fieldError({ key: 'TopUpLink', label: 'Top-up link', kind: 'url' }, '')).toBe('')
  })
})

describe('saveOptions', () => {
  it('puts one key at a time and reports each result', async () => {
    const put = vi.fn(async (key: string) => {
      if (key === 'ModelRatio') throw new ApiError('ModelRatio is not valid JSON')
    })
    const r = await saveOptions([['RetryTimes', '2'], ['ModelRatio', '{'], ['TopUpLink', 'https://x.io']], put)
    expect(put.mock.calls).toEqual([['RetryTimes', '2'], ['ModelRatio', '{'], ['TopUpLink', 'https://x.io']])
    expect(r.saved).toEqual(['RetryTimes', 'TopUpLink'])
    expect(r.failed).toEqual([{ key: 'ModelRatio', message: 'ModelRatio is not valid JSON' }])
  })

  it('uses PUT /api/option/ by default', async () => {
    const f = ok()
    vi.stubGlobal('fetch', f)
    const r = await saveOptions([['SystemName', 'Relay']])
    expect(r).toEqual({ saved: ['SystemName'], failed: [] })
    expect(call(f).body).toEqual({ key: 'SystemName', value: 'Relay' })
  })
})
