/** Top-up for the logged-in user: redeem a code, and the admin's external shop link. */
import { http } from './http'

/** `POST /api/user/topup {key}` → the quota the code added. */
export const redeemCode = (key: string) => http.post<number>('/api/user/topup', { key: key.trim() })

/** One plan of the top-up page (option TopupPlans): `price` is the operator's text ("$5", "¥10") or a number. */
export interface TopupPlan {
  name: string
  price?: string | number
  /** quota points */
  quota?: number
  note?: string
}

/** A bonus period: a code redeemed between `from` and `to` (unix seconds) is credited `ratio` times. */
export interface BonusPeriod {
  name?: string
  from: number
  to: number
  ratio: number
}

export interface TopupPlans {
  plans: TopupPlan[]
  /** the running period (the highest ratio), or null */
  bonus_period: BonusPeriod | null
  /** 0..1: that share of what an invited user redeems goes to the inviter */
  invite_rebate_ratio: number
  top_up_link: string
}

/** `GET /api/topup/plans`: the plans, the running bonus period and the invite rebate share. */
export async function getTopupPlans(): Promise<TopupPlans> {
  const d = await http.get<Partial<TopupPlans>>('/api/topup/plans')
  return {
    plans: Array.isArray(d?.plans) ? d.plans.filter((p) => p && typeof p.name === 'string') : [],
    bonus_period: d?.bonus_period && typeof d.bonus_period === 'object' ? d.bonus_period : null,
    invite_rebate_ratio: Number(d?.invite_rebate_ratio) || 0,
    top_up_link: String(d?.top_up_link ?? ''),
  }
}

/** A random id the shop can use to recognise this purchase (One API sends one too). */
export function newTransactionId(): string {
  const c = globalThis.crypto
  if (c?.randomUUID) return c.randomUUID().replace(/-/g, '')
  return Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join('')
}

/** TopUpLink with `username`, `user_id` and `transaction_id` added to its query. */
export function topUpUrl(link: string, username: string, userId: number, transactionId = newTransactionId()): string {
  const params = new URLSearchParams({ username, user_id: String(userId), transaction_id: transactionId })
  const [base, hash] = link.trim().split('#', 2)
  const url = base + (base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?') + params.toString()
  return hash !== undefined ? `${url}#${hash}` : url
}
