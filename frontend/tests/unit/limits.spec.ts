import { describe, expect, it } from 'vitest'
import { draftToLimits, emptyLimitsDraft, hasLimits, limitsErrors, limitsSummary, limitsToDraft } from '@/utils/limits'
import { displayToQuota, quotaToDisplay } from '@/utils/quota'
import { headerErrors, headersToRows, proxyError, rowsToHeaders } from '@/pages/channel/channelForm'
import {
  bonusPeriodLines,
  validateBonusPeriods,
  validateGroupLimits,
  validateGroupUpgradeRules,
  validateModelPrice,
  validateTopupPlans,
  validateUsableGroups,
} from '@/pages/setting/billingOptions'

const usd = { currency: true, perUnit: 500000 }
const unit = { toDisplay: (q: number) => quotaToDisplay(q, usd), fromDisplay: (v: number | null | undefined) => displayToQuota(v, usd) }

describe('limits draft', () => {
  it('round-trips a limits object through the editor unit (USD)', () => {
    const stored = { rpm: 60, tpm: 100000, daily: 5000000, '5h': 750000, models: { 'gpt-4o': { rpm: 5 } } }
    const d = limitsToDraft(stored, unit)
    expect(d.periods.daily).toBe(10)
    expect(d.periods['5h']).toBe(1.5)
    expect(d.periods.weekly).toBeNull()
    expect(draftToLimits(d, unit, stored)).toEqual(stored)
  })

  it('keeps an untouched stored quota exactly even when its display is rounded', () => {
    const stored = { daily: 1234567 }
    const d = limitsToDraft(stored, unit)
    expect(draftToLimits(d, unit, stored)).toEqual({ daily: 1234567 })
  })

  it('drops empty values and rows; {} means none', () => {
    const d = emptyLimitsDraft()
    d.models.push({ model: '  ', rpm: null, tpm: null })
    expect(draftToLimits(d, unit)).toEqual({})
    expect(hasLimits({})).toBe(false)
    expect(hasLimits({ models: { a: { rpm: 1 } } })).toBe(true)
  })

  it('reports errors per field', () => {
    const d = emptyLimitsDraft()
    d.rpm = 1.5
    d.models.push({ model: '', rpm: 3, tpm: null }, { model: 'm', rpm: 1, tpm: null }, { model: 'm', rpm: null, tpm: null })
    const e = limitsErrors(d)
    expect(e.rpm).toBe('common.limits.whole')
    expect(e['models.0.model']).toBe('common.limits.modelRequired')
    expect(e['models.2.model']).toBe('common.limits.modelTwice')
    expect(e['models.1.model']).toBeUndefined()
  })

  it('summarises limits for a tooltip', () => {
    const s = limitsSummary({ rpm: 60, daily: 5000000, models: { 'gpt-4o': { rpm: 5, tpm: 100 } } }, (q) => `$${q / 500000}`, (p) => p)
    expect(s).toBe('60 RPM · daily $10 · gpt-4o 5 RPM / 100 TPM')
  })
})

describe('channel proxy and headers', () => {
  it('checks the proxy scheme', () => {
    expect(proxyError('')).toBe('')
    expect(proxyError('socks5h://u:********@10.0.0.1:1080')).toBe('')
    expect(proxyError('ftp://x')).not.toBe('')
  })

  it('turns header rows into the JSON string and back', () => {
    const rows = headersToRows('{"X-Team":"ops"}')
    expect(rows).toEqual([{ name: 'X-Team', value: 'ops' }])
    expect(rowsToHeaders([...rows, { name: '', value: '' }])).toBe('{"X-Team":"ops"}')
    expect(rowsToHeaders([])).toBe('')
    expect(headersToRows('not json')).toEqual([])
  })

  it('refuses reserved, duplicate and badly named headers', () => {
    const e = headerErrors([
      { name: 'Host', value: 'x' },
      { name: 'x team', value: 'y' },
      { name: 'X-A', value: '1' },
      { name: 'x-a', value: '2' },
      { name: 'X-B', value: 'a\nb' },
    ])
    expect(Object.keys(e).sort()).toEqual(['0.name', '1.name', '3.name', '4.value'])
  })
})

describe('billing options', () => {
  it('checks each option as the server does', () => {
    expect(validateGroupUpgradeRules('{"vip": 5000000}')).toBe('')
    expect(validateGroupUpgradeRules('{"vip": 0}')).not.toBe('')
    expect(validateBonusPeriods('[{"name":"a","from":1,"to":2,"ratio":1.2}]')).toBe('')
    expect(validateBonusPeriods('[{"from":2,"to":1,"ratio":1.2}]')).not.toBe('')
    expect(validateBonusPeriods('[{"from":1,"to":2,"ratio":11}]')).not.toBe('')
    expect(validateBonusPeriods('')).toBe('')
    expect(validateTopupPlans('[{"name":"S","quota":100}]')).toBe('')
    expect(validateTopupPlans('[{"quota":100}]')).not.toBe('')
    expect(validateModelPrice('{"gpt-4o": 0.01}')).toBe('')
    expect(validateModelPrice('{"gpt-4o": -1}')).not.toBe('')
    expect(validateUsableGroups('{"vip": "Fast"}')).toBe('')
    expect(validateUsableGroups('{"vip": 1}')).not.toBe('')
    expect(validateGroupLimits('{"default": {"rpm": 60, "models": {"m": {"tpm": 5}}}}')).toBe('')
    expect(validateGroupLimits('{"default": {"daily": 5}}')).not.toBe('')
    expect(validateGroupLimits('{"default": {"models": {"m": {"daily": 5}}}}')).not.toBe('')
  })

  it('describes bonus periods with their state', () => {
    const lines = bonusPeriodLines('[{"name":"Launch","from":100,"to":200,"ratio":1.5}]', 150)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('Launch')
    expect(lines[0]).toContain('×1.5')
    expect(lines[0]).toContain('running')
  })
})
