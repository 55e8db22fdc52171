/** Top-up for the logged-in user: redeem a code, and the admin's external shop link. */
import { http } from './http'

/** `POST /api/user/topup {key}` → the quota the code added. */
export const redeemCode = (key: string) => http.post<number>('/api/user/topup', { key: key.trim() })

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
