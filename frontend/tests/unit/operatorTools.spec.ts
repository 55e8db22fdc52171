import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { batchEditChannels, copyChannel, editTag, listChannels, listChannelTags, setTagStatus } from '@/api/channel'
import { logExportUrl } from '@/api/log'
import { getTopupPlans } from '@/api/topup'
import {
  batchErrors,
  batchPayload,
  changedCount,
  emptyBatchForm,
  fromUnixSeconds,
  tagError,
  tagPayload,
  testExpectError,
  toUnixSeconds,
} from '@/pages/channel/channelOps'
import { keySuffixPreview, keySuffixProblem } from '@/pages/token/tokenHelpers'
import { bonusPercent, periodRunning, planPrice, sharePercent } from '@/pages/topup/topupPlans'
import { setLocale } from '@/i18n'

function reply(data: unknown) {
  return vi.fn().mockImplementation(async () => new Response(JSON.stringify({ success: true, message: '', data }), { status: 200 }))
}
function called(f: ReturnType<typeof vi.fn>, i = 0): { url: URL; method: string; body: unknown } {
  const [u, init] = f.mock.calls[i]
  const r = init as RequestInit
  return { url: new URL(u as string, 'http://x'), method: String(r.method), body: r.body ? JSON.parse(String(r.body)) : undefined }
}

beforeEach(() => setLocale('en', false))
afterEach(() => vi.unstubAllGlobals())

describe('channel operator API', () => {
  it('lists a page with or without a tag', async () => {
    const f = reply([])
    vi.stubGlobal('fetch', f)
    await listChannels(2, 'pool-a')
    await listChannels(0)
    expect(called(f).url.search).toBe('?p=2&tag=pool-a')
    expect(called(f, 1).url.search).toBe('?p=0')
  })
  it('sends tag, batch and copy requests', async () => {
    const f = reply(3)
    vi.stubGlobal('fetch', f)
    expect(await setTagStatus('pool-a', false)).toBe(3)
    expect(called(f)).toMatchObject({ method: 'POST', body: { tag: 'pool-a' } })
    expect(called(f).url.pathname).toBe('/api/channel/tag/disabled')
    await setTagStatus('pool-a', true)
    expect(called(f, 1).url.pathname).toBe('/api/channel/tag/enabled')
    await editTag('pool-a', { priority: 2, new_tag: 'pool-b' })
    expect(called(f, 2)).toMatchObject({ method: 'PUT', body: { tag: 'pool-a', priority: 2, new_tag: 'pool-b' } })
    await batchEditChannels([1, 2], { weight: 4 })
    expect(called(f, 3)).toMatchObject({ method: 'PUT', body: { ids: [1, 2], weight: 4 } })
    expect(called(f, 3).url.pathname).toBe('/api/channel/batch')
  })
  it('copies and answers the new id; lists tags', async () => {
    vi.stubGlobal('fetch', reply({ id: 9 }))
    expect(await copyChannel(4)).toBe(9)
    vi.stubGlobal('fetch', reply(['a', 'b']))
    expect(await listChannelTags()).toEqual(['a', 'b'])
  })
})

describe('channel form checks', () => {
  it('checks the tag length', () => {
    expect(tagError('pool')).toBe('')
    expect(tagError('x'.repeat(65))).toContain('64')
  })
  it('checks the expected reply with the browser, Python inline flags and named groups allowed', () => {
    expect(testExpectError('')).toBe('')
    expect(testExpectError('hello|hi')).toBe('')
    expect(testExpectError('(?i)hello')).toBe('')
    expect(testExpectError('(?P<w>a)(?P=w)')).toBe('')
    expect(testExpectError('([a-z')).toMatch(/^Not a valid regular expression/)
    expect(testExpectError('a'.repeat(501))).toContain('500')
  })
  it('converts the auto-enable time', () => {
    expect(toUnixSeconds(null)).toBe(0)
    expect(toUnixSeconds(1_700_000_000_999)).toBe(1_700_000_000)
    expect(fromUnixSeconds(0)).toBeNull()
    expect(fromUnixSeconds(1_700_000_000)).toBe(1_700_000_000_000)
  })
})

describe('batch and tag edit bodies', () => {
  it('sends only the ticked fields', () => {
    const f = emptyBatchForm()
    expect(batchPayload(f)).toEqual({})
    expect(changedCount(f)).toBe(0)
    f.group = { on: true, value: ['vip', ' default ', 'vip'] }
    f.priority = { on: true, value: 7.9 }
    f.weight = { on: true, value: -3 }
    f.status = { on: true, value: 2 }
    f.tag = { on: true, value: ' x ' }
    f.auto_enable_at = { on: true, value: null }
    f.models = { on: false, value: ['ignored'] }
    expect(batchPayload(f)).toEqual({ group: 'vip,default', priority: 7, weight: 0, status: 2, tag: 'x', auto_enable_at: 0 })
    expect(changedCount(f)).toBe(6)
  })
  it('renames through new_tag and never sends a status in tag mode', () => {
    const f = emptyBatchForm()
    f.tag = { on: true, value: 'pool-b' }
    f.status = { on: true, value: 2 }
    f.test_expect = { on: true, value: 'ok' }
    expect(tagPayload(f)).toEqual({ new_tag: 'pool-b', test_expect: 'ok' })
  })
  it('reports errors of the ticked fields only', () => {
    const f = emptyBatchForm()
    f.test_expect = { on: false, value: '(' }
    expect(batchErrors(f)).toEqual({})
    f.test_expect.on = true
    f.models = { on: true, value: [] }
    f.priority = { on: true, value: null }
    expect(Object.keys(batchErrors(f)).sort()).toEqual(['models', 'priority', 'test_expect'])
    const g = emptyBatchForm()
    g.tag = { on: true, value: '' }
    expect(batchErrors(g)).toEqual({})
    expect(batchErrors(g, true).tag).toBeTruthy()
  })
})

describe('token key suffix', () => {
  it('follows the server rule (4-32 letters, digits or _)', () => {
    expect(keySuffixProblem('')).toBeNull()
    expect(keySuffixProblem('team_ci01')).toBeNull()
    expect(keySuffixProblem('abc')).toBe('token.edit.keySuffixLength')
    expect(keySuffixProblem('a'.repeat(33))).toBe('token.edit.keySuffixLength')
    expect(keySuffixProblem('team-ci')).toBe('token.edit.keySuffixChars')
    expect(keySuffixProblem('tëam')).toBe('token.edit.keySuffixChars')
    expect(keySuffixPreview(' ci_1 ')).toBe('sk-' + '•'.repeat(16) + 'ci_1')
  })
})

describe('log export URL', () => {
  it('carries the filters, admin-only ones for admins only', () => {
    const f = { type: 2, model_name: ' gpt-4o ', username: 'alice', channel: '3', start_timestamp: 10.5 }
    expect(logExportUrl(f, true)).toBe('/api/log/export?type=2&start_timestamp=10&model_name=gpt-4o&username=alice&channel=3')
    expect(logExportUrl(f, false)).toBe('/api/log/self/export?type=2&start_timestamp=10&model_name=gpt-4o')
    expect(logExportUrl({}, false)).toBe('/api/log/self/export')
  })
})

describe('top-up plans', () => {
  it('reads the plans defensively', async () => {
    vi.stubGlobal('fetch', reply({ plans: [{ name: 'A', price: '$5', quota: 5 }, { price: 1 }], bonus_period: null, invite_rebate_ratio: '0.1' }))
    expect(await getTopupPlans()).toEqual({ plans: [{ name: 'A', price: '$5', quota: 5 }], bonus_period: null, invite_rebate_ratio: 0.1, top_up_link: '' })
  })
  it('formats prices, bonuses and shares', () => {
    expect(planPrice('  ¥10 ')).toBe('¥10')
    expect(planPrice(200)).toBe('200')
    expect(planPrice(9.5)).toBe('9.50')
    expect(planPrice(undefined)).toBe('')
    expect(bonusPercent(1.2)).toBe('+20%')
    expect(bonusPercent(2)).toBe('+100%')
    expect(bonusPercent(1)).toBe('')
    expect(sharePercent(0.05)).toBe('5%')
    expect(sharePercent(0.125)).toBe('12.5%')
    expect(sharePercent(0)).toBe('')
  })
  it('knows when a period runs', () => {
    const p = { name: 'x', from: 100, to: 200, ratio: 1.5 }
    expect(periodRunning(p, 150)).toBe(true)
    expect(periodRunning(p, 200)).toBe(false)
    expect(periodRunning(p, 99)).toBe(false)
    expect(periodRunning({ ...p, ratio: 1 }, 150)).toBe(false)
    expect(periodRunning(null, 150)).toBe(false)
  })
})
