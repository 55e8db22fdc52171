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
