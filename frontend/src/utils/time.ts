import { t } from '@/i18n'

/** Unix seconds → `YYYY-MM-DD HH:mm:ss` in the browser's time zone; 0 or less → `-`. (The same in every language.) */
export function formatTime(unix: number | null | undefined): string {
  if (!unix || unix <= 0) return '-'
  const d = new Date(unix * 1000)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** Unix seconds now. */
export function nowUnix(): number {
  return Math.floor(Date.now() / 1000)
}

/** "3 min ago" / "3 分钟前" for recent times (current language), the date (`YYYY-MM-DD`) for older ones. */
export function relativeTime(unix: number, now = nowUnix()): string {
  if (!unix || unix <= 0) return '-'
  const s = now - unix
  if (s < 0) return formatTime(unix)
  if (s < 60) return t('common.time.justNow')
  if (s < 3600) return t('common.time.minutesAgo', { n: Math.floor(s / 60) })
  if (s < 86400) return t('common.time.hoursAgo', { n: Math.floor(s / 3600) })
  if (s < 86400 * 30) return t('common.time.daysAgo', { n: Math.floor(s / 86400) })
  return formatTime(unix).slice(0, 10)
}
