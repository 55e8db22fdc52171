/** Pure helpers of the logs page: type tags, elapsed time, the date range → filter timestamps. */
import { LOG_CONSUME, LOG_ERROR, LOG_MANAGE, LOG_SYSTEM, LOG_TEST, LOG_TOPUP, type LogFilters } from '@/api/log'
import { t, type MessageKey } from '@/i18n'
import { formatNumber } from '@/utils/format'

export type TagType = 'default' | 'success' | 'info' | 'warning' | 'error' | 'primary'

export interface TypeMeta {
  label: string
  tag: TagType
}

const TYPES: Record<number, { label: MessageKey; tag: TagType }> = {
  [LOG_TOPUP]: { label: 'log.types.topup', tag: 'success' },
  [LOG_CONSUME]: { label: 'log.types.consume', tag: 'info' },
  [LOG_MANAGE]: { label: 'log.types.manage', tag: 'warning' },
  [LOG_SYSTEM]: { label: 'log.types.system', tag: 'primary' },
  [LOG_TEST]: { label: 'log.types.test', tag: 'default' },
  [LOG_ERROR]: { label: 'log.types.error', tag: 'error' },
}

/** The type's tag: its label in the current language, and its colour. */
export function typeMeta(type: number): TypeMeta {
  const m = TYPES[type]
  return m ? { label: t(m.label), tag: m.tag } : { label: t('log.types.unknown'), tag: 'default' }
}

/** `850 ms`, `12,345 ms` (digits grouped the current language's way). */
export function formatElapsed(ms: number): string {
  const v = Math.max(0, Math.round(Number(ms) || 0))
  return `${formatNumber(v)} ms`
}

/** Green under 3 s, amber under 10 s, red beyond. */
export function elapsedLevel(ms: number): 'success' | 'warning' | 'error' {
  return ms < 3000 ? 'success' : ms < 10000 ? 'warning' : 'error'
}

/** The filter form as the user edits it. */
export interface LogForm {
  type: number
  /** NDatePicker datetimerange value: [start, end] in ms, or null */
  range: [number, number] | null
  token_name: string
  model_name: string
  username: string
  channel: string
}

export function emptyForm(): LogForm {
  return { type: 0, range: null, token_name: '', model_name: '', username: '', channel: '' }
}

/** The API filters for a form (ms → unix seconds; the end second is inclusive). */
export function formToFilters(f: LogForm): LogFilters {
  const out: LogFilters = {
    type: f.type || undefined,
    token_name: f.token_name.trim() || undefined,
    model_name: f.model_name.trim() || undefined,
    username: f.username.trim() || undefined,
    channel: /^\d+$/.test(f.channel.trim()) ? Number(f.channel.trim()) : undefined,
  }
  if (f.range && f.range.length === 2) {
    out.start_timestamp = Math.floor(f.range[0] / 1000) || undefined
    out.end_timestamp = Math.floor(f.range[1] / 1000) || undefined
  }
  for (const k of Object.keys(out) as (keyof LogFilters)[]) if (out[k] === undefined) delete out[k]
  return out
}

/** Whether any filter is set (for the empty state's wording). */
export function hasFilters(f: LogFilters): boolean {
  return Object.values(f).some((v) => v !== undefined && v !== '' && v !== 0)
}

/** A form prefilled from the route query (`/log?model_name=gpt-4&type=2`, links from other pages). */
export function formFromQuery(q: Record<string, unknown>): LogForm {
  const s = (v: unknown) => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '')
  const f = emptyForm()
  const t = Number(s(q.type))
  if (Number.isInteger(t) && t >= 0 && t <= LOG_ERROR) f.type = t
  f.token_name = s(q.token_name)
  f.model_name = s(q.model_name)
  f.username = s(q.username)
  f.channel = /^\d+$/.test(s(q.channel)) ? s(q.channel) : ''
  return f
}


/** A channel's name for a log row: its name, else `#id`; 0 = none. */
export function channelLabel(id: number, names: ReadonlyMap<number, string>): string {
  if (!id) return ''
  const name = names.get(id)
  return name ? name : '#' + id
}
