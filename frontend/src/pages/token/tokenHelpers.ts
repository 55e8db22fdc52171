/** Pure helpers of the token pages: key display, copy texts, expiry shortcuts, subnet checks. */
import type { MessageKey } from '@/i18n'

/**
 * Why a key suffix is refused (the server's rule: 4-32 letters, digits or _), as a message key;
 * null when it is fine or empty (no suffix: a fully random key).
 */
export function keySuffixProblem(suffix: string): MessageKey | null {
  const s = suffix.trim()
  if (!s) return null
  if (s.length < 4 || s.length > 32) return 'token.edit.keySuffixLength'
  if (!/^[A-Za-z0-9_]+$/.test(s)) return 'token.edit.keySuffixChars'
  return null
}

/** What the new key will look like: `sk-` + 16 random characters (shown as •) + the suffix. */
export function keySuffixPreview(suffix: string): string {
  return 'sk-' + '•'.repeat(16) + suffix.trim()
}

/** The key as clients use it: `sk-` + the stored key. */
export function fullKey(key: string): string {
  return key.startsWith('sk-') ? key : 'sk-' + key
}

/** `sk-abcd…wxyz`: enough to recognise a key without showing it. */
export function maskKey(key: string): string {
  const k = key.startsWith('sk-') ? key.slice(3) : key
  if (k.length <= 8) return 'sk-' + '•'.repeat(Math.max(4, k.length))
  return `sk-${k.slice(0, 4)}…${k.slice(-4)}`
}

/** The OpenAI base URL of this gateway for a browser origin (`https://host` → `https://host/v1`). */
export function baseUrl(origin: string): string {
  return origin.replace(/\/+$/, '') + '/v1'
}

/** Environment variables for the OpenAI SDKs and most OpenAI-compatible tools. */
export function envText(key: string, origin: string): string {
  return `OPENAI_BASE_URL=${baseUrl(origin)}\nOPENAI_API_KEY=${fullKey(key)}`
}

/** The two things a client needs, labelled, for pasting into an app's settings. */
export function baseUrlAndKeyText(key: string, origin: string): string {
  return `Base URL: ${baseUrl(origin)}\nAPI key: ${fullKey(key)}`
}

export type ExpiryShortcut = 'hour' | 'day' | 'month' | 'never'

/** The expiry buttons of the token form; `label` is a message key (`t(s.label)`). */
export const EXPIRY_SHORTCUTS: { key: ExpiryShortcut; label: MessageKey }[] = [
  { key: 'hour', label: 'token.shortcuts.hour' },
  { key: 'day', label: 'token.shortcuts.day' },
  { key: 'month', label: 'token.shortcuts.month' },
  { key: 'never', label: 'token.shortcuts.never' },
]

/** Same day-of-month `n` months later, clamped to the month's last day (Jan 31 + 1 → Feb 28/29). */
export function addMonths(ms: number, n: number): number {
  const d = new Date(ms)
  const day = d.getDate()
  d.setDate(1)
  d.setMonth(d.getMonth() + n)
  const last = new Date(d.getFullYear(), d.getMonth() + 1, 0).getDate()
  d.setDate(Math.min(day, last))
  return d.getTime()
}

/** The expiry (ms) a shortcut sets, counted from `nowMs`; `null` = never expires. */
export function expiryFromShortcut(kind: ExpiryShortcut, nowMs: number = Date.now()): number | null {
  switch (kind) {
    case 'hour':
      return nowMs + 3600_000
    case 'day':
      return nowMs + 86400_000
    case 'month':
      return addMonths(nowMs, 1)
    default:
      return null
  }
}

/** The server's `expired_time` (unix seconds, -1 = never) from the form's picker value (ms or null). */
export function toExpiredTime(ms: number | null | undefined): number {
  return ms == null ? -1 : Math.floor(ms / 1000)
}

/** The picker value (ms or null = never) from the server's `expired_time`. */
export function fromExpiredTime(unix: number | null | undefined): number | null {
  return unix == null || unix < 0 ? null : unix * 1000
}

/** Whether an `expired_time` is in the past. */
export function isExpired(unix: number, nowSec: number = Date.now() / 1000): boolean {
  return unix !== -1 && unix > 0 && unix < nowSec
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** The parts of a comma-separated subnet list that are not an IPv4/IPv6 address or CIDR. */
export function invalidSubnets(text: string): string[] {
  const bad: string[] = []
  for (const raw of (text || '').split(',')) {
    const part = raw.trim()
    if (!part) continue
    const [addr, prefix, extra] = part.split('/')
    let ok = extra === undefined
    if (ok && IPV4.test(addr)) {
      ok = prefix === undefined || (/^\d{1,2}$/.test(prefix) && Number(prefix) <= 32)
    } else if (ok && addr.includes(':') && /^[0-9a-fA-F:.]+$/.test(addr)) {
      ok = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= 128)
    } else {
      ok = false
    }
    if (!ok) bad.push(part)
  }
  return bad
}

/** A comma-separated list → trimmed, non-empty items (and back with `join(',')`). */
export function splitList(text: string | null | undefined): string[] {
  return (text || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

export interface QuotaConverter {
  toDisplay: (quota: number) => number
  fromDisplay: (value: number | null | undefined) => number
}

/**
 * The quota to send for an edited field: `undefined` when the displayed value still equals
 * the stored quota's display (so USD rounding never rewrites it, and no needless change is
 * logged), otherwise the input converted back to quota. Without an original it converts.
 */
export function changedQuota(value: number | null | undefined, original: number | null | undefined, q: QuotaConverter): number | undefined {
  if (original != null && value === q.toDisplay(original)) return undefined
  return q.fromDisplay(value)
}

/** One API's one-click chat apps (web/default TokensTable.js). */
export type ChatApp = 'next' | 'lobechat' | 'ama' | 'opencat'
export const CHAT_APPS: { key: ChatApp; label: string }[] = [
  { key: 'next', label: 'ChatGPT Next Web' },
  { key: 'lobechat', label: 'LobeChat' },
  { key: 'ama', label: 'AMA 问天' },
  { key: 'opencat', label: 'OpenCat' },
]
const NEXT_CHAT = 'https://app.nextchat.dev'
const LOBE_CHAT = 'https://chat-preview.lobehub.com'

/**
 * The link that opens a chat app with this gateway and key, as One API builds it:
 * `server` is the ServerAddress (else this origin), `chatLink` the operator's ChatLink
 * (ChatGPT Next Web and LobeChat are served there; else their public instances).
 */
export function chatAppUrl(app: ChatApp, key: string, server: string, chatLink = ''): string {
  const k = fullKey(key)
  const addr = server.replace(/\/+$/, '')
  const enc = encodeURIComponent(addr)
  const link = chatLink.replace(/\/+$/, '')
  switch (app) {
    case 'ama':
      return `ama://set-api-key?server=${enc}&key=${k}`
    case 'opencat':
      return `opencat://team/join?domain=${enc}&token=${k}`
    case 'lobechat':
      return (link || LOBE_CHAT) + `/?settings={"keyVaults":{"openai":{"apiKey":"${k}","baseURL":"${addr}/v1"}}}`
    default:
      return (link || NEXT_CHAT) + `/#/?settings={"key":"${k}","url":"${addr}"}`
  }
}
