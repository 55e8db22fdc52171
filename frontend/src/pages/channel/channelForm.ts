/** Pure helpers of the channel pages (unit-tested in tests/unit/channel.spec.ts). */
import { t } from '@/i18n'
import { formatNumber } from '@/utils/format'

export type MappingCheck = { ok: true; value: Record<string, string> } | { ok: false; error: string }

/**
 * Validates the model-mapping text: empty, or a JSON object of requested model → upstream
 * model, both non-empty strings (what the server accepts and routing uses).
 */
export function validateModelMapping(text: string): MappingCheck {
  const src = (text ?? '').trim()
  if (!src) return { ok: true, value: {} }
  let data: unknown
  try {
    data = JSON.parse(src)
  } catch (e) {
    const detail = e instanceof Error ? e.message.replace(/^JSON\.parse: /, '') : ''
    return { ok: false, error: detail ? t('channel.errors.invalidJsonDetail', { detail }) : t('channel.errors.invalidJson') }
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { ok: false, error: t('channel.errors.notObject', { example: '{"requested-model": "upstream-model"}' }) }
  }
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (!k.trim()) return { ok: false, error: t('channel.errors.emptyModelName') }
    if (typeof v !== 'string') return { ok: false, error: t('channel.errors.valueNotString', { model: k }) }
    if (!v.trim()) return { ok: false, error: t('channel.errors.valueEmpty', { model: k }) }
    out[k] = v
  }
  return { ok: true, value: out }
}

/** A comma-separated list → unique trimmed names, in order. */
export function splitCsv(text: string | null | undefined): string[] {
  const seen = new Set<string>()
  for (const part of (text ?? '').split(',')) {
    const p = part.trim()
    if (p) seen.add(p)
  }
  return [...seen]
}

/** Names typed or pasted into a tag select may hold commas, spaces or newlines: split and dedupe. */
export function normalizeNames(values: string[]): string[] {
  const seen = new Set<string>()
  for (const v of values) {
    for (const part of String(v).split(/[,\n]/)) {
      const p = part.trim()
      if (p) seen.add(p)
    }
  }
  return [...seen]
}

/** Non-empty lines of a key field. */
export function keyLines(text: string): string[] {
  return (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
}

/** The `config` JSON as a string map (tolerant: anything unparsable is {}). */
export function parseConfig(text: string | null | undefined): Record<string, unknown> {
  const t = (text ?? '').trim()
  if (!t) return {}
  try {
    const v: unknown = JSON.parse(t)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** Drops empty string values; '' when nothing is left (the server stores "" for no config). */
export function stringifyConfig(config: Record<string, unknown>): string {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined || v === null) continue
    if (typeof v === 'string' && !v.trim()) continue
    out[k] = typeof v === 'string' ? v.trim() : v
  }
  return Object.keys(out).length ? JSON.stringify(out) : ''
}

/** An http(s) URL with a host (the server's own check). */
export function isHttpUrl(url: string): boolean {
  return /^https?:\/\/[^/\s]+/.test((url ?? '').trim())
}

/** Mapped (requested) model names that are missing from the channel's models: requests for them never reach it. */
export function unroutedMappingKeys(mapping: Record<string, string>, models: string[]): string[] {
  const set = new Set(models)
  return Object.keys(mapping).filter((k) => !set.has(k))
}

export type SpeedLevel = 'untested' | 'fast' | 'ok' | 'slow' | 'very-slow'

/** Response time (ms) → a speed level for colouring. */
export function speedLevel(ms: number): SpeedLevel {
  if (!ms || ms <= 0) return 'untested'
  if (ms < 1000) return 'fast'
  if (ms < 3000) return 'ok'
  if (ms < 5000) return 'slow'
  return 'very-slow'
}

/** `850 ms`, `1.23 s` (digits in the console's language); a measured 0 (`tested`) is `< 1 ms`. */
export function formatDuration(ms: number, tested = false): string {
  if (!ms || ms <= 0) return tested ? '< 1 ms' : '-'
  const fmt = (v: number, digits: number) => formatNumber(v, { minimumFractionDigits: digits, maximumFractionDigits: digits })
  if (ms < 1000) return `${fmt(Math.round(ms), 0)} ms`
  return `${fmt(ms / 1000, 2)} s`
}

/** A provider balance: `$12.35` or `¥12.35`. */
export function formatBalance(amount: number, currency: 'USD' | 'CNY'): string {
  const v = Number(amount) || 0
  const sym = currency === 'CNY' ? '¥' : '$'
  return sym + formatNumber(v, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
}

/**
 * An upstream error fit to show: an HTML page in it (a provider's 404 page, a proxy's error
 * page) becomes its title, tags never show. `HTTP 404: <html><title>404 Not Found</title>…`
 * → `HTTP 404 (404 Not Found)`.
 */
export function cleanErrorText(message: string, htmlOnly: (status: string) => string = (s) => `HTTP ${s}`): string {
  const msg = String(message ?? '')
  const at = msg.search(/<\s*(!doctype|html|head|body|title|h1|center|p|div|pre)\b/i)
  if (at < 0) return msg
  const prefix = msg.slice(0, at).trim().replace(/[:：]\s*$/, '').trim()
  const html = msg.slice(at)
  const title = (/<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1] ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1] ?? '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  const status = /\b([1-5]\d\d)\b/.exec(prefix)?.[1] ?? /\b([1-5]\d\d)\b/.exec(title)?.[1] ?? ''
  const head = prefix || (status ? htmlOnly(status) : '')
  if (!head) return title || htmlOnly('?')
  return title && !head.includes(title) ? `${head} (${title.slice(0, 120)})` : head
}

// ----------------------------------------------------------------------------- proxy and headers
/** The mask the server shows in place of a saved proxy password (sent back as is, it keeps it). */
export const PROXY_MASK = '********'

/** '' when `url` is empty or a proxy URL the server takes (http, https, socks5, socks5h with a host). */
export function proxyError(url: string): string {
  const u = (url ?? '').trim()
  if (!u) return ''
  if (!/^(https?|socks5h?):\/\/[^/\s]+/i.test(u)) return t('channel.net.proxyFormat')
  return ''
}

export interface HeaderRow {
  name: string
  value: string
}

/** Headers the server refuses to set (it owns them). */
const RESERVED_HEADERS = new Set(['content-length', 'transfer-encoding', 'host', 'connection'])

/** The stored `headers` JSON → editable rows (anything unparsable: no rows). */
export function headersToRows(text: string | null | undefined): HeaderRow[] {
  const src = (text ?? '').trim()
  if (!src) return []
  try {
    const v: unknown = JSON.parse(src)
    if (!v || typeof v !== 'object' || Array.isArray(v)) return []
    return Object.entries(v as Record<string, unknown>).map(([name, value]) => ({ name, value: String(value ?? '') }))
  } catch {
    return []
  }
}

/** Per-row errors (`<i>.name` / `<i>.value`) of the header rows; empty rows are ignored. */
export function headerErrors(rows: HeaderRow[]): Record<string, string> {
  const e: Record<string, string> = {}
  const seen = new Set<string>()
  rows.forEach((r, i) => {
    const name = r.name.trim()
    if (!name && !r.value.trim()) return
    if (!name) e[`${i}.name`] = t('channel.net.headerNameRequired')
    else if (!/^[A-Za-z0-9-]{1,100}$/.test(name)) e[`${i}.name`] = t('channel.net.headerNameChars')
    else if (RESERVED_HEADERS.has(name.toLowerCase())) e[`${i}.name`] = t('channel.net.headerReserved', { name })
    else if (seen.has(name.toLowerCase())) e[`${i}.name`] = t('channel.net.headerTwice')
    if (name) seen.add(name.toLowerCase())
    if (/[\r\n]/.test(r.value)) e[`${i}.value`] = t('channel.net.headerOneLine')
  })
  return e
}

/** The rows → the `headers` string to send ('' = none). */
export function rowsToHeaders(rows: HeaderRow[]): string {
  const out: Record<string, string> = {}
  for (const r of rows) {
    const name = r.name.trim()
    if (name) out[name] = r.value.trim()
  }
  return Object.keys(out).length ? JSON.stringify(out) : ''
}
