/**
 * `/api/log/*`: usage and audit logs. Admins read everybody's logs (`/api/log/...`), other
 * users their own (`/api/log/self...`); both take the same filters, except that username
 * and channel only exist for admins.
 */
import { buildUrl, http, requestEnvelope, type Query } from './http'
import type { Log } from './types'
import type { MessageKey } from '@/i18n'

export const LOG_TOPUP = 1
export const LOG_CONSUME = 2
export const LOG_MANAGE = 3
export const LOG_SYSTEM = 4
export const LOG_TEST = 5
/** a relay request that failed after authentication (never billed) */
export const LOG_ERROR = 6

/** Log types as the filter select and the type tags show them (0 = all types); `label` is a message key. */
export const LOG_TYPE_OPTIONS: { value: number; label: MessageKey }[] = [
  { value: 0, label: 'log.types.all' },
  { value: LOG_TOPUP, label: 'log.types.topup' },
  { value: LOG_CONSUME, label: 'log.types.consume' },
  { value: LOG_MANAGE, label: 'log.types.manage' },
  { value: LOG_SYSTEM, label: 'log.types.system' },
  { value: LOG_TEST, label: 'log.types.test' },
  { value: LOG_ERROR, label: 'log.types.error' },
]

/** Columns the log list sorts by (`sort`), and the direction (`order`). */
export type LogSort = 'created_at' | 'quota' | 'elapsed_time' | 'prompt_tokens' | 'completion_tokens'
export interface LogSorting {
  sort: LogSort
  order: 'desc' | 'asc'
}

export interface LogPage {
  rows: Log[]
  /** how many logs match the filters (all pages) */
  total: number
}

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

/** One page of the matching logs, sorted as asked, with the number of matching logs. */
export async function listLogPage(
  p: number,
  filters: LogFilters = {},
  admin = false,
  sorting?: LogSorting,
): Promise<LogPage> {
  const q: Query = { p, ...logQuery(filters, admin) }
  if (sorting && (sorting.sort !== 'created_at' || sorting.order !== 'desc')) {
    q.sort = sorting.sort
    q.order = sorting.order
  }
  const env = await requestEnvelope<Log[]>('GET', base(admin) + '/', { query: q })
  const rows = env.data ?? []
  const total = Number(env.total)
  return { rows, total: Number.isFinite(total) && total >= 0 ? total : rows.length }
}

/**
 * The URL of the CSV export of the logs matching the filters (`/api/log/export` for admins,
 * `/api/log/self/export` for one's own): opened as a plain link, the browser streams the
 * download and the session cookie authenticates it.
 */
export function logExportUrl(filters: LogFilters = {}, admin = false): string {
  return buildUrl(base(admin) + '/export', logQuery(filters, admin))
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

export interface ErrorStatRow {
  requests: number
  errors: number
  /** errors / requests, 0..1 */
  error_rate: number
}
export interface ErrorStat {
  days: number
  channels: (ErrorStatRow & { channel_id: number; channel_name: string })[]
  models: (ErrorStatRow & { model_name: string })[]
}

/** Admin: requests and failed requests per channel and per model over the last `days` days. */
export function errorStat(days = 7): Promise<ErrorStat> {
  return http.get<ErrorStat>('/api/log/error_stat', { days }).then((d) => ({
    days: Number(d?.days) || days,
    channels: (d?.channels ?? []).map((r) => ({ ...r, channel_id: Number(r.channel_id) || 0, channel_name: String(r.channel_name ?? '') })),
    models: (d?.models ?? []).map((r) => ({ ...r, model_name: String(r.model_name ?? '') })),
  }))
}
