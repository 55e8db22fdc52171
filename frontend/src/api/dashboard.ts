/** `/api/user/dashboard`: the last 7 UTC days of one's consumption, by day and model. */
import { http } from './http'
import type { DashboardRow } from './types'

export function getDashboard(): Promise<DashboardRow[]> {
  return http.get<DashboardRow[]>('/api/user/dashboard').then((rows) =>
    (rows ?? []).map((r) => ({
      Day: String(r.Day ?? ''),
      ModelName: String(r.ModelName ?? ''),
      RequestCount: Number(r.RequestCount) || 0,
      Quota: Number(r.Quota) || 0,
      PromptTokens: Number(r.PromptTokens) || 0,
      CompletionTokens: Number(r.CompletionTokens) || 0,
    })),
  )
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

/** `/api/log/error_stat` (admins): requests and failures per channel and per model. */
export function getErrorStat(days = 7): Promise<ErrorStat> {
  return http.get<ErrorStat>('/api/log/error_stat', { days }).then((d) => ({
    days: Number(d?.days) || days,
    channels: (d?.channels ?? []).map((r) => ({ ...r, channel_id: Number(r.channel_id) || 0, channel_name: String(r.channel_name ?? '') })),
    models: (d?.models ?? []).map((r) => ({ ...r, model_name: String(r.model_name ?? '') })),
  }))
}
