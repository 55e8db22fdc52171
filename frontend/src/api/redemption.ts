/** `/api/redemption/*` (admin): redemption codes. Redeeming one is `POST /api/user/topup`. */
import { http } from './http'
import type { Redemption } from './types'

export const REDEMPTION_ENABLED = 1
export const REDEMPTION_DISABLED = 2
export const REDEMPTION_USED = 3

export interface NewRedemptionInput {
  /** 1–20 characters */
  name: string
  /** quota of each code, at least 1 */
  quota: number
  /** how many codes to create, 1–100 */
  count: number
}

export interface RedemptionUpdateInput {
  id: number
  name?: string
  /** only while the code is unused */
  quota?: number
}

/** One page of codes (0-based, 10 rows, newest first). */
export function listRedemptions(p: number): Promise<Redemption[]> {
  return http.get<Redemption[]>('/api/redemption/', { p })
}

/** The id, or a name prefix (≤ 100 rows). */
export function searchRedemptions(keyword: string): Promise<Redemption[]> {
  return http.get<Redemption[]>('/api/redemption/search', { keyword })
}

export function getRedemption(id: number): Promise<Redemption> {
  return http.get<Redemption>(`/api/redemption/${id}`)
}

/** Creates `count` codes and returns their keys. */
export async function createRedemptions(body: NewRedemptionInput): Promise<string[]> {
  return (await http.post<string[]>('/api/redemption/', body)) ?? []
}

export function updateRedemption(body: RedemptionUpdateInput): Promise<Redemption> {
  return http.put<Redemption>('/api/redemption/', body)
}

/** Enables (1) or disables (2) an unused code. */
export function setRedemptionStatus(id: number, status: number): Promise<Redemption> {
  return http.put<Redemption>('/api/redemption/', { id, status }, { status_only: 1 })
}

export async function deleteRedemption(id: number): Promise<void> {
  await http.del(`/api/redemption/${id}`)
}
