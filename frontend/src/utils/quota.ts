/**
 * Quota display (One API's renderQuota): in currency mode a quota is shown in USD as
 * `quota / QuotaPerUnit`; otherwise as a token count. Numbers follow the console's
 * language (`currentLocale()`), or the `locale` given.
 */
import { currentLocale, type Locale } from '@/i18n'

export interface QuotaDisplay {
  currency: boolean
  perUnit: number
}

const tag = (l: Locale) => (l === 'zh-CN' ? 'zh-CN' : 'en-US')

/**
 * `$1.23` (currency) or `1,234,567` (tokens): exact to `digits` decimals (callers show it in
 * full, e.g. on hover). Tiny non-zero USD amounts keep enough digits to not show `$0.00`.
 */
export function formatQuota(quota: number, d: QuotaDisplay, digits = 2, locale: Locale = currentLocale()): string {
  const q = Number(quota) || 0
  if (!d.currency) return Math.round(q).toLocaleString(tag(locale))
  const usd = q / (d.perUnit || 500000)
  if (usd !== 0 && Math.abs(usd) < 10 ** -digits) {
    return '$' + usd.toPrecision(2).replace(/0+$/, '').replace(/\.$/, '')
  }
  return '$' + usd.toLocaleString(tag(locale), { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** A quota in the unit the user edits it in (USD or tokens). */
export function quotaToDisplay(quota: number, d: QuotaDisplay): number {
  if (!d.currency) return Math.round(Number(quota) || 0)
  return Math.round(((Number(quota) || 0) / (d.perUnit || 500000)) * 1e6) / 1e6
}

/** Back from the edit unit to an integer quota. */
export function displayToQuota(value: number | null | undefined, d: QuotaDisplay): number {
  const v = Number(value) || 0
  return d.currency ? Math.round(v * (d.perUnit || 500000)) : Math.round(v)
}

/**
 * Compact counts for charts and cards. English: 1.2K, 3.4M, 5.6B (999,999,999 → 1B, never
 * 1000M). Chinese: 万 / 亿 (1.2万, 3.4亿), as `Intl` writes them. The exact value is
 * `formatNumber(n)` (utils/format).
 */
export function compactNumber(n: number, locale: Locale = currentLocale()): string {
  const v = Number(n) || 0
  if (locale === 'zh-CN') {
    return new Intl.NumberFormat('zh-CN', { notation: 'compact', maximumFractionDigits: Math.abs(v) >= 1e4 ? 1 : 0 }).format(v)
  }
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']]
  for (let i = 0; i < units.length; i++) {
    const [size, suffix] = units[i]
    if (Math.abs(v) < size) continue
    const x = v / size
    const text = (Math.abs(x) >= 10 ? x.toFixed(0) : x.toFixed(1)).replace(/\.0$/, '')
    if (Math.abs(Number(text)) >= 1000 && i > 0) {
      const [bigger, s2] = units[i - 1]
      return (v / bigger).toFixed(1).replace(/\.0$/, '') + s2
    }
    return text + suffix
  }
  const r = Math.round(v)
  if (Math.abs(r) >= 1000) return (r / 1000).toFixed(0) + 'K'
  return String(r)
}
