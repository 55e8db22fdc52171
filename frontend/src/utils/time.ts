/** Unix seconds → `YYYY-MM-DD HH:mm:ss` in the browser's time zone; 0 or less → `-`. */
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

/** "3 min ago"-style text for recent times, the date for older ones. */
export function relativeTime(unix: number, now = nowUnix()): string {
  if (!unix || unix <= 0) return '-'
  const s = now - unix
  if (s < 0) return formatTime(unix)
  if (s < 60) return 'just now'
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  if (s < 86400 * 30) return `${Math.floor(s / 86400)} d ago`
  return formatTime(unix).slice(0, 10)
}
