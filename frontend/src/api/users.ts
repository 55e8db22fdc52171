/** `/api/user/*` admin routes: list, search, create, update, delete and manage users. */
import { http } from './http'
import type { Limits, User } from './types'

/** `order` sorts by that field, largest first; empty = newest first. */
export type UserOrder = '' | 'quota' | 'used_quota' | 'request_count'

export type ManageAction = 'disable' | 'enable' | 'delete' | 'promote' | 'demote'

export interface NewUserInput {
  /** at most 12 characters, no spaces */
  username: string
  /** 8–20 characters */
  password: string
  /** at most 20 characters; defaults to the username */
  display_name?: string
  /** 1 common (default) or 10 admin (root only) */
  role?: number
}

export interface UserUpdateInput {
  id: number
  username?: string
  display_name?: string
  /** empty or missing = unchanged */
  password?: string
  email?: string
  group?: string
  /** absolute quota; a change writes a manage log */
  quota?: number
  role?: number
  status?: number
  /** RPM/TPM and periodic quotas of the user ({} = none) */
  limits?: Limits
}

export interface ManageResult {
  role: number
  status: number
}

/** One page of users (0-based, 10 rows), deleted users left out. */
export function listUsers(p: number, order: UserOrder = ''): Promise<User[]> {
  return http.get<User[]>('/api/user/', { p, order })
}

/** The id, or a username / email / display name prefix (≤ 100 rows). */
export function searchUsers(keyword: string): Promise<User[]> {
  return http.get<User[]>('/api/user/search', { keyword })
}

export function getUser(id: number): Promise<User> {
  return http.get<User>(`/api/user/${id}`)
}

/** Creates a user below one's own role (they get QuotaForNewUser and a "default" token). */
export function createUser(body: NewUserInput): Promise<User> {
  return http.post<User>('/api/user/', body)
}

/** Updates the given fields; an empty password is dropped (unchanged). */
export function updateUser(body: UserUpdateInput): Promise<User> {
  const payload: UserUpdateInput = { ...body }
  if (!payload.password) delete payload.password
  return http.put<User>('/api/user/', payload)
}

export async function deleteUser(id: number): Promise<void> {
  await http.del(`/api/user/${id}`)
}

/** disable / enable / delete / promote (root only) / demote, by username. */
export function manageUser(username: string, action: ManageAction): Promise<ManageResult> {
  return http.post<ManageResult>('/api/user/manage', { username, action })
}
