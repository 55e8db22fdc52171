/** The exact text of a quota for hovers: USD to 6 decimals plus the raw quota points, or the points alone. */
import { t } from '@/i18n'
import type { useQuota } from '@/composables/useQuota'

export function quotaExact(quota: number, q: ReturnType<typeof useQuota>): string {
  const points = q.number(Math.round(Number(quota) || 0))
  if (!q.currency.value) return t('log.quota.points', { points })
  return t('log.quota.exact', { value: q.format(quota, 6), points })
}
