import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { ApiError } from '@/api/http'
import {
  createToken,
  deleteToken,
  getToken,
  listAvailableModels,
  listTokens,
  searchTokens,
  setTokenStatus,
  updateToken,
} from '@/api/token'
import {
  addMonths,
  baseUrl,
  baseUrlAndKeyText,
  changedQuota,
  envText,
  EXPIRY_SHORTCUTS,
  expiryFromShortcut,
  fromExpiredTime,
  fullKey,
  invalidSubnets,
  isExpired,
  maskKey,
  splitList,
  toExpiredTime,
} from '@/pages/token/tokenHelpers'
import { statusInfo } from '@/components/StatusTag.vue'
import { useQuota } from '@/composables/useQuota'
import { useStatusStore } from '@/stores/status'
import type { Status } from '@/api/types'
import { setLocale, t } from '@/i18n'

function reply(body: unknown, status = 200) {
  return vi.fn().mockImplementation(() => Promise.resolve(new Response(JSON.stringify(body), { status })))
}
const ok = (data: unknown) => reply({ success: true, message: '', data })
function call(f: ReturnType<typeof vi.fn>, i = 0) {
  const [url, init] = f.mock.calls[i] as [string, RequestInit]
  return { url, method: init.method, body: init.body ? JSON.parse(init.body as string) : undefined }
}

const KEY = 'AbCdEfGhIjKlMnOp0123456789abcdef0123456789abcdefWXYZ'

afterEach(() => vi.unstubAllGlobals())

describe('token api', () => {
  it('lists a page with an optional order', async () => {
    const f = ok([{ id: 1 }])
    vi.stubGlobal('fetch', f)
    await expect(listTokens(2)).resolves.toEqual([{ id: 1 }])
    expect(call(f)).toMatchObject({ url: '/api/token/?p=2', method: 'GET', body: undefined })
    await listTokens(0, 'used_quota')
    expect(call(f, 1).url).toBe('/api/token/?p=0&order=used_quota')
  })

  it('searches by keyword and gets one', async () => {
    const f = ok([])
    vi.stubGlobal('fetch', f)
    await searchTokens('my key')
    expect(call(f).url).toBe('/api/token/search?keyword=my+key')
    await getToken(7)
    expect(call(f, 1)).toMatchObject({ url: '/api/token/7', method: 'GET' })
  })

  it('creates with the whole body and returns the token with its key', async () => {
    const f = ok({ id: 3, key: KEY })
    vi.stubGlobal('fetch', f)
    const body = { name: 'ci', remain_quota: 500000, unlimited_quota: false, expired_time: -1, models: 'gpt-4o', subnet: '' }
    await expect(createToken(body)).resolves.toEqual({ id: 3, key: KEY })
    expect(call(f)).toEqual({ url: '/api/token/', method: 'POST', body })
  })

  it('updates with PUT and toggles the status with ?status_only=1', async () => {
    const f = ok({ id: 3 })
    vi.stubGlobal('fetch', f)
    await updateToken({ id: 3, name: 'x' })
    expect(call(f)).toEqual({ url: '/api/token/', method: 'PUT', body: { id: 3, name: 'x' } })
    await setTokenStatus(3, 2)
    expect(call(f, 1)).toEqual({ url: '/api/token/?status_only=1', method: 'PUT', body: { id: 3, status: 2 } })
  })

  it('deletes by id', async () => {
    const f = ok(null)
    vi.stubGlobal('fetch', f)
    await expect(deleteToken(9)).resolves.toBeUndefined()
    expect(call(f)).toMatchObject({ url: '/api/token/9', method: 'DELETE' })
  })

  it('reads the available models (null → [])', async () => {
    vi.stubGlobal('fetch', ok(['gpt-4o', 'o1']))
    await expect(listAvailableModels()).resolves.toEqual(['gpt-4o', 'o1'])
    const f = ok(null)
    vi.stubGlobal('fetch', f)
    await expect(listAvailableModels()).resolves.toEqual([])
    expect(call(f).url).toBe('/api/user/available_models')
  })

  it('turns a refusal into an ApiError with the server message', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'The token has expired: change its expiry first' }))
    const err = await setTokenStatus(1, 1).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toBe('The token has expired: change its expiry first')
  })
})

describe('key display and copy texts', () => {
  it('adds sk- once', () => {
    expect(fullKey(KEY)).toBe('sk-' + KEY)
    expect(fullKey('sk-' + KEY)).toBe('sk-' + KEY)
  })
  it('masks to the first and last four characters', () => {
    expect(maskKey(KEY)).toBe('sk-AbCd…WXYZ')
    expect(maskKey('sk-' + KEY)).toBe('sk-AbCd…WXYZ')
    expect(maskKey('short')).toBe('sk-•••••')
    expect(maskKey(KEY)).not.toContain('EfGh')
  })
  it('builds the OpenAI env lines and the base URL text', () => {
    expect(baseUrl('https://gw.example.com/')).toBe('https://gw.example.com/v1')
    expect(envText(KEY, 'https://gw.example.com')).toBe(`OPENAI_BASE_URL=https://gw.example.com/v1\nOPENAI_API_KEY=sk-${KEY}`)
    expect(baseUrlAndKeyText(KEY, 'http://127.0.0.1:3000')).toBe(`Base URL: http://127.0.0.1:3000/v1\nAPI key: sk-${KEY}`)
  })
})

describe('expiry', () => {
  const now = new Date(2024, 0, 31, 10, 30, 0).getTime()
  it('offers +1 hour, +1 day, +1 month and Never', () => {
    expect(EXPIRY_SHORTCUTS.map((s) => t(s.label))).toEqual(['+1 hour', '+1 day', '+1 month', 'Never'])
    setLocale('zh-CN', false)
    try {
      expect(EXPIRY_SHORTCUTS.map((s) => t(s.label))).toEqual(['1 小时后', '1 天后', '1 个月后', '永不过期'])
    } finally {
      setLocale('en', false)
    }
    expect(expiryFromShortcut('hour', now)).toBe(now + 3600_000)
    expect(expiryFromShortcut('day', now)).toBe(now + 86400_000)
    expect(expiryFromShortcut('never', now)).toBeNull()
  })
  it('+1 month keeps the time and clamps to the last day of the month', () => {
    const d = new Date(expiryFromShortcut('month', now) as number)
    expect([d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes()]).toEqual([2024, 1, 29, 10, 30])
    const dec = new Date(addMonths(new Date(2023, 11, 15).getTime(), 1))
    expect([dec.getFullYear(), dec.getMonth(), dec.getDate()]).toEqual([2024, 0, 15])
  })
  it('converts between the picker (ms / null) and expired_time (s / -1)', () => {
    expect(toExpiredTime(null)).toBe(-1)
    expect(toExpiredTime(1700000000999)).toBe(1700000000)
    expect(fromExpiredTime(-1)).toBeNull()
    expect(fromExpiredTime(1700000000)).toBe(1700000000000)
  })
  it('knows when a time is past (never is never past)', () => {
    expect(isExpired(-1, 2e9)).toBe(false)
    expect(isExpired(100, 200)).toBe(true)
    expect(isExpired(300, 200)).toBe(false)
  })
})

describe('form helpers', () => {
  it('finds the invalid subnet entries', () => {
    expect(invalidSubnets('')).toEqual([])
    expect(invalidSubnets('192.168.0.0/24, 10.0.0.1 ,::1, 2001:db8::/32')).toEqual([])
    expect(invalidSubnets('192.168.0.0/33,300.1.1.1,abc,10.0.0.0/8/1')).toEqual(['192.168.0.0/33', '300.1.1.1', 'abc', '10.0.0.0/8/1'])
  })
  it('splits comma lists', () => {
    expect(splitList(' gpt-4o, ,o1 ,')).toEqual(['gpt-4o', 'o1'])
    expect(splitList(null)).toEqual([])
  })
  it('labels token, user, redemption statuses and roles', () => {
    expect(statusInfo('token', 1)).toEqual(['Enabled', 'success'])
    expect(statusInfo('token', 3)[0]).toBe('Expired')
    expect(statusInfo('token', 4)[0]).toBe('Exhausted')
    expect(statusInfo('redemption', 3)[0]).toBe('Used')
    expect(statusInfo('role', 100)[0]).toBe('Root')
    expect(statusInfo('user', 9)[0]).toBe('Unknown (9)')
  })
})

describe('quota unit conversion in the forms', () => {
  beforeEach(() => setActivePinia(createPinia()))

  function withStatus(currency: boolean, perUnit = 500000) {
    useStatusStore().status = { display_in_currency: currency, quota_per_unit: perUnit } as Status
    return useQuota()
  }

  it('USD: edits in dollars and sends quota points', () => {
    const q = withStatus(true)
    expect(q.unit.value).toBe('USD')
    expect(q.toDisplay(1250000)).toBe(2.5)
    expect(changedQuota(3, undefined, q)).toBe(1500000)
  })
  it('quota points: edits in quota points (never called tokens)', () => {
    const q = withStatus(false)
    expect(q.unit.value).toBe('quota points')
    expect(changedQuota(1234, undefined, q)).toBe(1234)
  })
  it('an untouched field sends nothing, even when USD rounding would drift', () => {
    const q = withStatus(true)
    const stored = 1234567 // shown as $2.469134
    expect(changedQuota(q.toDisplay(stored), stored, q)).toBeUndefined()
    expect(changedQuota(10, stored, q)).toBe(5000000)
  })
})
