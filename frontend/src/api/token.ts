/** `/api/token/*` and `/api/user/available_models`: the logged-in user's own API keys. */
import { http } from './http'
import type { Limits, Token, UsableGroups } from './types'

/** The writable fields of a token (POST takes them all, PUT any subset plus `id`). */
export interface TokenInput {
  /** at most 30 characters */
  name?: string
  remain_quota?: number
  unlimited_quota?: boolean
  /** unix seconds, -1 = never */
  expired_time?: number
  /** comma-separated allow-list; empty = every model of the user's group */
  models?: string
  /** comma-separated CIDRs or addresses; empty = any client address */
  subnet?: string
  /** create only: 4-32 letters, digits or _, unique; the key is 16 random characters and this suffix */
  key_suffix?: string
  /** RPM/TPM and periodic quotas ({} = none) */
  limits?: Limits
  /** ratio: tokens × ratios; per_call: the ModelPrice option's price per request */
  billing_mode?: 'ratio' | 'per_call'
  /** '' = the owner's group; else one of `listUsableGroups()` */
  group?: string
}

/** `order` sorts by that field, largest first; empty = newest first. */
export type TokenOrder = '' | 'remain_quota' | 'used_quota'

/** Token statuses as the server reports them (3 and 4 are computed from expiry and quota). */
export const TOKEN_ENABLED = 1
export const TOKEN_DISABLED = 2
export const TOKEN_EXPIRED = 3
export const TOKEN_EXHAUSTED = 4

/** One page of one's tokens (0-based, 10 rows). */
export function listTokens(p: number, order: TokenOrder = ''): Promise<Token[]> {
  return http.get<Token[]>('/api/token/', { p, order })
}

/** Tokens whose name starts with the keyword (≤ 100 rows). */
export function searchTokens(keyword: string): Promise<Token[]> {
  return http.get<Token[]>('/api/token/search', { keyword })
}

export function getToken(id: number): Promise<Token> {
  return http.get<Token>(`/api/token/${id}`)
}

/** Creates a token; the answer carries the generated key (without `sk-`). */
export function createToken(body: TokenInput): Promise<Token> {
  return http.post<Token>('/api/token/', body)
}

export function updateToken(body: TokenInput & { id: number }): Promise<Token> {
  return http.put<Token>('/api/token/', body)
}

/** Enables (1) or disables (2) a token, leaving everything else as is. */
export function setTokenStatus(id: number, status: number): Promise<Token> {
  return http.put<Token>('/api/token/', { id, status }, { status_only: 1 })
}

export async function deleteToken(id: number): Promise<void> {
  await http.del(`/api/token/${id}`)
}

/** The enabled models of the user's group (the choices for a token's allow-list). */
export async function listAvailableModels(): Promise<string[]> {
  return (await http.get<string[]>('/api/user/available_models')) ?? []
}

/** The groups one may pick for a token (one's own and the UserUsableGroups option's), with their ratios. */
export async function listUsableGroups(): Promise<UsableGroups> {
  return (await http.get<UsableGroups>('/api/user/groups')) ?? {}
}
