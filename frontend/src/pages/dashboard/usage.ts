/**
 * Shapes `/api/user/dashboard` rows (one per UTC day and model) into chart data: every one
 * of the last 7 days on the axis even without usage, one stacked series per model (the
 * biggest first, the tail folded into "Other"), per-day totals and per-model shares.
 */
import type { DashboardRow } from '@/api/types'
import { currentLocale, t, type Locale } from '@/i18n'
import { formatNumber } from '@/utils/format'

export const DAYS = 7
/** Models beyond this many are summed into "Other" so stacks and legends stay readable. */
export const MAX_MODELS = 8
/** The English name of the folded series (`otherName()` is the current language's). */
export const OTHER = 'Other'

/** "Other" in the current language. */
export function otherName(): string {
  return t('dashboard.usage.other')
}

/** `YYYY-MM-DD` of the UTC days ending with today (the server groups logs by UTC day). */
export function lastDays(nowMs: number = Date.now(), n: number = DAYS): string[] {
  const today = Math.floor(nowMs / 86400000) * 86400000
  const out: string[] = []
  for (let i = n - 1; i >= 0; i--) out.push(new Date(today - i * 86400000).toISOString().slice(0, 10))
  return out
}

/** `2024-05-14` → `May 14` (en) / `5月14日` (zh-CN). */
export function dayLabel(day: string, locale: Locale = currentLocale()): string {
  const d = new Date(day + 'T00:00:00Z')
  if (Number.isNaN(d.getTime())) return day
  return d.toLocaleDateString(locale === 'zh-CN' ? 'zh-CN' : 'en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' })
}

export interface ModelSeries {
  name: string
  /** per day, aligned with `days` */
  quota: number[]
  requests: number[]
  totalQuota: number
  totalRequests: number
}

export interface Usage {
  days: string[]
  /** stacked series, biggest consumer first; "Other" (if any) last */
  models: ModelSeries[]
  perDay: { requests: number[]; quota: number[]; prompt: number[]; completion: number[] }
  totals: { requests: number; quota: number; prompt: number; completion: number; tokens: number }
  /** number of distinct models used */
  modelCount: number
}

const zeros = (n: number) => new Array<number>(n).fill(0)

export function modelName(name: string): string {
  return name.trim() || t('dashboard.usage.unknown')
}

export function buildUsage(rows: DashboardRow[], days: string[] = lastDays(), maxModels = MAX_MODELS): Usage {
  const index = new Map(days.map((d, i) => [d, i]))
  const n = days.length
  const perDay = { requests: zeros(n), quota: zeros(n), prompt: zeros(n), completion: zeros(n) }
  const byModel = new Map<string, ModelSeries>()
  for (const r of rows) {
    const i = index.get(r.Day)
    if (i === undefined) continue // outside the window (clock skew): not drawn, not counted
    const name = modelName(r.ModelName)
    let m = byModel.get(name)
    if (!m) {
      m = { name, quota: zeros(n), requests: zeros(n), totalQuota: 0, totalRequests: 0 }
      byModel.set(name, m)
    }
    const q = Number(r.Quota) || 0
    const c = Number(r.RequestCount) || 0
    m.quota[i] += q
    m.requests[i] += c
    m.totalQuota += q
    m.totalRequests += c
    perDay.requests[i] += c
    perDay.quota[i] += q
    perDay.prompt[i] += Number(r.PromptTokens) || 0
    perDay.completion[i] += Number(r.CompletionTokens) || 0
  }
  const sorted = [...byModel.values()].sort(
    (a, b) => b.totalQuota - a.totalQuota || b.totalRequests - a.totalRequests || a.name.localeCompare(b.name),
  )
  let models = sorted
  if (sorted.length > maxModels) {
    const keep = sorted.slice(0, maxModels - 1)
    const other: ModelSeries = { name: otherName(), quota: zeros(n), requests: zeros(n), totalQuota: 0, totalRequests: 0 }
    for (const m of sorted.slice(maxModels - 1)) {
      for (let i = 0; i < n; i++) {
        other.quota[i] += m.quota[i]
        other.requests[i] += m.requests[i]
      }
      other.totalQuota += m.totalQuota
      other.totalRequests += m.totalRequests
    }
    models = [...keep, other]
  }
  const sum = (a: number[]) => a.reduce((s, v) => s + v, 0)
  const prompt = sum(perDay.prompt)
  const completion = sum(perDay.completion)
  return {
    days,
    models,
    perDay,
    totals: { requests: sum(perDay.requests), quota: sum(perDay.quota), prompt, completion, tokens: prompt + completion },
    modelCount: byModel.size,
  }
}

/** `1 request`, `3 requests` (English; the page uses `countText` for the current language). */
export function plural(n: number, word: string): string {
  return `${formatNumber(n, {}, 'en')} ${word}${n === 1 ? '' : 's'}`
}

/** `1.2M`, `34B`, `1T` for big balances: never `1000M` (rounding moves up a unit). */
export function bigNumber(n: number): string {
  const v = Number(n) || 0
  const abs = Math.abs(v)
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']]
  for (let i = 0; i < units.length; i++) {
    const [size, suffix] = units[i]
    if (abs < size) continue
    const x = abs / size
    let text = x >= 100 ? x.toFixed(0) : x.toFixed(1).replace(/\.0$/, '')
    if (Number(text) >= 1000 && i > 0) text = (abs / units[i - 1][0]).toFixed(1).replace(/\.0$/, '') + units[i - 1][1]
    else text += suffix
    return (v < 0 ? '-' : '') + text
  }
  return String(Math.round(v))
}
