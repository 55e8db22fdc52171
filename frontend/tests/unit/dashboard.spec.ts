import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import { getDashboard } from '@/api/dashboard'
import type { DashboardRow } from '@/api/types'
import { bigNumber, buildUsage, dayLabel, lastDays, OTHER, plural } from '@/pages/dashboard/usage'
import { axisMoney, consumptionOption, escapeHtml, requestsOption, shareOption, tokensOption } from '@/pages/dashboard/charts'
import { chartTheme } from '@/composables/useChartTheme'
import { setLocale } from '@/i18n'

const row = (Day: string, ModelName: string, RequestCount: number, Quota: number, PromptTokens = 0, CompletionTokens = 0): DashboardRow => ({
  Day, ModelName, RequestCount, Quota, PromptTokens, CompletionTokens,
})

afterEach(() => vi.unstubAllGlobals())

describe('getDashboard', () => {
  it('GETs /api/user/dashboard and unwraps the rows', async () => {
    const rows = [row('2024-05-14', 'gpt-4o', 2, 300, 10, 20)]
    const f = vi.fn().mockResolvedValue(new Response(JSON.stringify({ success: true, message: '', data: rows })))
    vi.stubGlobal('fetch', f)
    await expect(getDashboard()).resolves.toEqual(rows)
    expect(f.mock.calls[0][0]).toBe('/api/user/dashboard')
    expect(f.mock.calls[0][1].method).toBe('GET')
  })
  it('null data is no rows; missing numbers are 0', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(JSON.stringify({ success: true, message: '', data: null }))))
    await expect(getDashboard()).resolves.toEqual([])
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(JSON.stringify({ success: true, message: '', data: [{ Day: '2024-05-14' }] }))))
    await expect(getDashboard()).resolves.toEqual([row('2024-05-14', '', 0, 0)])
  })
  it('an error is an ApiError with the server message', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(JSON.stringify({ success: false, message: 'No permission' }))))
    const err = await getDashboard().catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toBe('No permission')
  })
})

describe('usage shaping', () => {
  const now = Date.UTC(2024, 4, 14, 23, 59) // 2024-05-14, late evening UTC
  const days = lastDays(now)

  it('lastDays gives the 7 UTC days ending today, oldest first', () => {
    expect(days).toEqual(['2024-05-08', '2024-05-09', '2024-05-10', '2024-05-11', '2024-05-12', '2024-05-13', '2024-05-14'])
    expect(lastDays(Date.UTC(2024, 0, 2, 0, 0), 3)).toEqual(['2023-12-31', '2024-01-01', '2024-01-02'])
    expect(dayLabel('2024-05-14')).toBe('May 14')
  })

  it('fills every day and stacks by model, biggest first', () => {
    const u = buildUsage([
      row('2024-05-10', 'gpt-3.5-turbo', 3, 30, 100, 50),
      row('2024-05-14', 'gpt-4o', 1, 500, 10, 5),
      row('2024-05-14', 'gpt-3.5-turbo', 2, 20, 40, 20),
      row('2024-04-01', 'gpt-4o', 9, 9999), // outside the window: ignored
    ], days)
    expect(u.days).toHaveLength(7)
    expect(u.models.map((m) => m.name)).toEqual(['gpt-4o', 'gpt-3.5-turbo'])
    expect(u.models[0].quota).toEqual([0, 0, 0, 0, 0, 0, 500])
    expect(u.models[1].quota).toEqual([0, 0, 30, 0, 0, 0, 20])
    expect(u.perDay.requests).toEqual([0, 0, 3, 0, 0, 0, 3])
    expect(u.totals).toEqual({ requests: 6, quota: 550, prompt: 150, completion: 75, tokens: 225 })
    expect(u.modelCount).toBe(2)
  })

  it('an empty result still has 7 zero days', () => {
    const u = buildUsage([], days)
    expect(u.perDay.quota).toEqual([0, 0, 0, 0, 0, 0, 0])
    expect(u.models).toEqual([])
    expect(u.totals.requests).toBe(0)
  })

  it('folds the tail into "Other" and names blank models', () => {
    const rows = Array.from({ length: 5 }, (_, i) => row('2024-05-14', 'm' + i, 1, 100 - i))
    rows.push(row('2024-05-13', '', 1, 1))
    const u = buildUsage(rows, days, 3)
    expect(u.models.map((m) => m.name)).toEqual(['m0', 'm1', OTHER])
    expect(u.models[2].totalQuota).toBe(98 + 97 + 96 + 1)
    expect(u.models[2].requests).toEqual([0, 0, 0, 0, 0, 1, 3])
    expect(u.modelCount).toBe(6)
    expect(buildUsage([row('2024-05-14', ' ', 1, 1)], days).models[0].name).toBe('(unknown)')
  })

  it('small formatters', () => {
    expect(plural(1, 'request')).toBe('1 request')
    expect(plural(1200, 'request')).toBe('1,200 requests')
    expect(bigNumber(999_999_999.99)).toBe('1B')
    expect(bigNumber(1_250_000)).toBe('1.3M')
    expect(bigNumber(12)).toBe('12')
    expect(escapeHtml('<img src=x onerror="a">&')).toBe('&lt;img src=x onerror=&quot;a&quot;&gt;&amp;')
    expect(axisMoney(true)(0)).toBe('$0')
    expect(axisMoney(true)(2.5)).toBe('$2.5')
    expect(axisMoney(true)(0.0004)).toBe('$0.0004')
    expect(axisMoney(false)(25000)).toBe('25K')
  })
})

describe('chart options', () => {
  const days = lastDays(Date.UTC(2024, 4, 14))
  const u = buildUsage([row('2024-05-14', 'gpt-4o', 2, 1_000_000, 30, 40), row('2024-05-12', '<b>x</b>', 1, 0, 5, 0)], days)
  const q = { toDisplay: (v: number) => v / 500000, format: (v: number) => '$' + (v / 500000).toFixed(2), currency: true }
  const t = chartTheme(false)

  it('consumption: one stacked bar series per model over 7 labelled days, in display units', () => {
    const o = consumptionOption(u, t, q) as any
    expect(o.xAxis.data).toHaveLength(7)
    expect(o.xAxis.data[6]).toBe('May 14')
    expect(o.series.map((s: any) => s.name)).toEqual(['gpt-4o', '<b>x</b>'])
    expect(o.series.every((s: any) => s.type === 'bar' && s.stack === 'quota')).toBe(true)
    expect(o.series[0].data).toEqual([0, 0, 0, 0, 0, 0, 2])
    const tip: string = o.tooltip.formatter([{ dataIndex: 4 }])
    expect(tip).toContain('&lt;b&gt;x&lt;/b&gt;')
    expect(tip).not.toContain('<b>x</b>')
  })

  it('requests, share and tokens follow the data and the theme', () => {
    const r = requestsOption(u, chartTheme(true)) as any
    expect(r.series[0].data).toEqual([0, 0, 0, 0, 1, 0, 2])
    expect(r.yAxis.axisLabel.color).toBe(chartTheme(true).subtext)
    const s = shareOption(u, t, q) as any
    expect(s.series[0].data.map((d: any) => d.name)).toEqual(['gpt-4o']) // zero-spend slices left out
    expect(s.title.text).toBe('$2.00')
    const k = tokensOption(u, t) as any
    expect(k.series.map((x: any) => x.data[6])).toEqual([30, 40])
  })
})

describe('dashboard in Chinese', () => {
  afterEach(() => setLocale('en', false))
  const days = lastDays(Date.UTC(2024, 4, 14))
  const rows = [row('2024-05-14', 'gpt-4o', 2, 1_000_000, 30, 40)]

  it('day labels, folded and unnamed series, chart labels', () => {
    setLocale('zh-CN', false)
    expect(dayLabel('2024-05-14')).toBe('5月14日')
    expect(dayLabel('2024-05-14', 'en')).toBe('May 14')
    const u = buildUsage([...Array.from({ length: 4 }, (_, i) => row('2024-05-14', 'm' + i, 1, 10 - i)), row('2024-05-13', '', 1, 1)], days, 3)
    expect(u.models.map((m) => m.name)).toEqual(['m0', 'm1', '其他'])
    expect(buildUsage([row('2024-05-14', ' ', 1, 1)], days).models[0].name).toBe('（未知）')
    const usage = buildUsage(rows, days)
    const c = consumptionOption(usage, chartTheme(false), { toDisplay: (v) => v, format: (v) => String(v), currency: false }) as any
    expect(c.xAxis.data[6]).toBe('5月14日')
    const k = tokensOption(usage, chartTheme(false)) as any
    expect(k.legend.data).toEqual(['输入', '输出'])
    expect(k.tooltip.formatter([{ dataIndex: 6 }])).toContain('合计')
    const r = requestsOption(usage, chartTheme(false)) as any
    expect(r.series[0].name).toBe('请求数')
    expect(axisMoney(false)(25000)).toBe('2.5万')
  })
})
