/** The top-up page's plans, bonus period and rebate share, as text (no Vue). */
import type { BonusPeriod, TopupPlan } from '@/api/topup'

/** A plan's price as the operator wrote it ("$5", "¥10"); a bare number is shown as is (2 decimals when it has cents). */
export function planPrice(price: TopupPlan['price']): string {
  if (price === undefined || price === null) return ''
  if (typeof price === 'number') return Number.isInteger(price) ? String(price) : price.toFixed(2)
  return String(price).trim()
}

/** A credit ratio as the bonus it gives: 1.2 → "+20%", 2 → "+100%"; '' for 1 or less. */
export function bonusPercent(ratio: number): string {
  if (!Number.isFinite(ratio) || ratio <= 1) return ''
  return '+' + trimNumber((ratio - 1) * 100) + '%'
}

/** A share from 0 to 1 as a percentage: 0.05 → "5%", 0.125 → "12.5%". */
export function sharePercent(share: number): string {
  if (!Number.isFinite(share) || share <= 0) return ''
  return trimNumber(Math.min(share, 1) * 100) + '%'
}

/** The period runs now (from ≤ now < to). */
export function periodRunning(p: BonusPeriod | null | undefined, nowSec = Date.now() / 1000): p is BonusPeriod {
  return Boolean(p && p.from <= nowSec && nowSec < p.to && p.ratio > 1)
}

function trimNumber(n: number): string {
  return String(Math.round(n * 100) / 100)
}
