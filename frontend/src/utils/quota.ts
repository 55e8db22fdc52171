/**
 * Quota display (One API's renderQuota): in currency mode a quota is shown in USD as
 * `quota / QuotaPerUnit`; otherwise as a token count.
 */

export interface QuotaDisplay {
  currency: boolean
  perUnit: number
}

/** `$1.23` (currency) or `1,234,567` (tokens). Tiny non-zero USD amounts keep enough digits to not show `$0.00`. */
export function formatQuota(quota: number, d: QuotaDisplay, digits = 2): string {
  const q = Number(quota) || 0
  if (!d.currency) return Math.round(q).toLocaleString('en-US')
  const usd = q / (d.perUnit || 500000)
  if (usd !== 0 && Math.abs(usd) < 10 ** -digits) {
    return '$' + usd.toPrecision(2).replace(/0+$/, '').replace(/\.$/, '')
  }
  return '$' + usd.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
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

/** Compact token counts for charts and cards: 1.2K, 3.4M, 5.6B. */
export function compactNumber(n: number): string {
  const v = Number(n) || 0
  const abs = Math.abs(v)
  if (abs >= 1e9) return (v / 1e9).toFixed(abs >= 1e10 ? 0 : 1).replace(/\.0$/, '') + 'B'
  if (abs >= 1e6) return (v / 1e6).toFixed(abs >= 1e7 ? 0 : 1).replace(/\.0$/, '') + 'M'
  if (abs >= 1e3) return (v / 1e3).toFixed(abs >= 1e4 ? 0 : 1).replace(/\.0$/, '') + 'K'
  return String(Math.round(v))
}
