/**
 * `/api/log/*`: usage and audit logs. Admins read everybody's logs (`/api/log/...`), other
 * users their own (`/api/log/self...`); both take the same filters, except that username
 * and channel only exist for admins.
 */
import { http, type Query } from './http'
import type { Log } from './types'
import type { MessageKey } from '@/i18n'

export const LOG_TOPUP = 1
export const LOG_CONSUME = 2
export const LOG_MANAGE = 3
export const LOG_SYSTEM = 4
export const LOG_TEST = 5

/** Log types as the filter select and the type tags show them (0 = all types); `label` is a message key. */
export const LOG_TYPE_OPTIONS: { value: number; label: MessageKey }[] = [
  { value: 0, label: 'log.types.all' },
  { value: LOG_TOPUP, label: 'log.types.topup' },
  { value: LOG_CONSUME, label: 'log.types.consume' },
  { value: LOG_MANAGE, label: 'log.types.manage' },
  { value: LOG_SYSTEM, label: 'log.types.system' },
  { value: LOG_TEST, label: 'log.types.test' },
]

export interface LogFilters {
  /** 0 or missing = every type */
  type?: number
  /** unix seconds; 0 or missing = open */
  start_timestamp?: number
  end_timestamp?: number
  token_name?: string
  model_name?: string
  /** admin only */
  username?: string
  /** admin only: channel id */
  channel?: number | string
}

/** The query string values for these filters: empty ones left out, admin-only ones only for admins. */
export function logQuery(f: LogFilters, admin: boolean): Query {
  const q: Query = {}
  const text = (v: string | undefined) => (v ?? '').trim()
  const pos = (v: number | string | undefined) => {
    const n = Math.floor(Number(v))
    return Number.isFinite(n) && n > 0 ? n : undefined
  }
  q.type = pos(f.type)
  q.start_timestamp = pos(f.start_timestamp)
  q.end_timestamp = pos(f.end_timestamp)
  q.token_name = text(f.token_name)
  q.model_name = text(f.model_name)
  if (admin) {
    q.username = text(f.username)
    q.channel = pos(f.channel)
  }
  for (const k of Object.keys(q)) if (q[k] === undefined || q[k] === '') delete q[k]
  return q
}

const base = (admin: boolean) => (admin ? '/api/log' : '/api/log/self')

/** One page (0-based, 10 rows, newest first) of the logs matching the filters. */
export function listLogs(p: number, filters: LogFilters = {}, admin = false): Promise<Log[]> {
  return http.get<Log[]>(base(admin) + '/', { p, ...logQuery(filters, admin) }).then((r) => r ?? [])
}

/** The quota summed over the matching logs (consume logs only unless a type is given). */
export function logStat(filters: LogFilters = {}, admin = false): Promise<{ quota: number }> {
  return http
    .get<{ quota: number }>(base(admin) + '/stat', logQuery(filters, admin))
    .then((r) => ({ quota: Number(r?.quota) || 0 }))
}

/** The newest 100 logs whose type equals the keyword (admins: or whose content starts with it). */
export function searchLogs(keyword: string, admin = false): Promise<Log[]> {
  return http.get<Log[]>(base(admin) + '/search', { keyword: keyword.trim() }).then((r) => r ?? [])
}

/** Admin: deletes the logs older than `targetTimestamp` (unix seconds); returns how many. */
export function deleteLogsBefore(targetTimestamp: number): Promise<number> {
  return http.del<number>('/api/log/', { target_timestamp: Math.floor(targetTimestamp) }).then((n) => Number(n) || 0)
}
