import { inject, provide, ref, type InjectionKey, type Ref } from 'vue'
import { errorMessage } from '@/api/http'
import { getOptionMap, updateOption } from '@/api/option'
import { t } from '@/i18n'

/**
 * The root's settings tabs: option field descriptions, the draft ↔ stored-string
 * conversions, "which keys changed" and the ratio JSON checks (pure helpers, unit-tested),
 * and `useOptions()`, the loaded option map shared by the tabs of the Settings page.
 */

export type FieldKind =
  | 'text'
  | 'url'
  | 'number'
  | 'int'
  | 'switch'
  | 'secret'
  | 'json'
  | 'tags'
  | 'select'
  | 'markdown'
  | 'html'
  | 'image'

export interface OptionField {
  key: string
  /** the human label; also the input's accessible name */
  label: string
  kind: FieldKind
  help?: string
  placeholder?: string
  min?: number
  max?: number
  step?: number
  /** show the value as a quota ("≈ $1.00") under a number input */
  quota?: boolean
  /** unit suffix shown in a number input */
  suffix?: string
  options?: { label: string; value: string }[]
  /** take the whole row of the card's grid */
  wide?: boolean
  /** json: the field's own check ('' = fine), instead of the ratio-table check */
  validate?: (text: string) => string
  /** json: readable lines shown under a valid value (e.g. bonus periods with their dates) */
  summary?: (text: string) => string[]
}

export type DraftValue = string | number | boolean | string[] | null

/** Keys whose values the server hides (`GET /api/option/` leaves them out). */
export function isSecretKey(key: string): boolean {
  return /(Token|Secret|SecretKey)$/.test(key)
}

/** The stored string → the value an input edits. Secrets always start empty. */
export function toDraft(kind: FieldKind, raw: string | undefined): DraftValue {
  const s = raw ?? ''
  switch (kind) {
    case 'switch':
      return s === 'true'
    case 'number':
    case 'int': {
      if (s.trim() === '') return null
      const n = Number(s)
      return Number.isFinite(n) ? n : null
    }
    case 'tags':
      return s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    case 'secret':
      return ''
    default:
      return s
  }
}

/** The edited value → the string the server stores (booleans "true"/"false", tags comma-joined). */
export function fromDraft(kind: FieldKind, v: DraftValue | undefined): string {
  switch (kind) {
    case 'switch':
      return v === true ? 'true' : 'false'
    case 'number':
    case 'int':
      return v === null || v === undefined || v === '' ? '' : String(v)
    case 'tags':
      return (Array.isArray(v) ? v : [])
        .map((t) => t.trim())
        .filter(Boolean)
        .join(',')
    case 'url':
      return typeof v === 'string' ? v.trim() : ''
    default:
      return v === null || v === undefined ? '' : String(v)
  }
}

/**
 * The keys of `fields` whose draft differs from the stored value. A secret counts as
 * changed only when something was typed (the stored value is never known).
 */
export function changedKeys(
  fields: OptionField[],
  original: Record<string, string>,
  draft: Record<string, DraftValue>,
): string[] {
  const out: string[] = []
  for (const f of fields) {
    if (f.kind === 'secret') {
      if (typeof draft[f.key] === 'string' && (draft[f.key] as string).trim() !== '') out.push(f.key)
      continue
    }
    if (!(f.key in draft)) continue
    const now = fromDraft(f.kind, draft[f.key])
    const was = fromDraft(f.kind, toDraft(f.kind, original[f.key]))
    if (now !== was) out.push(f.key)
  }
  return out
}

/**
 * '' when `text` is what the server accepts for a ratio option (a JSON object of
 * name → non-negative number), else a readable reason.
 */
export function validateRatioJson(text: string): string {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    return t('common.options.notJson', { reason: (e as Error).message || t('common.options.syntaxError') })
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return t('common.options.notObject', { example: '{"gpt-4o": 2.5}' })
  }
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return t('common.options.entryNumber', { key: k })
    if (v < 0) return t('common.options.entryNegative', { key: k })
  }
  return ''
}

/** Pretty-prints JSON with two-space indents; throws on invalid JSON. */
export function formatJson(text: string): string {
  return JSON.stringify(JSON.parse(text), null, 2)
}

/** '' when the field's draft can be saved, else the reason shown under the input. */
export function fieldError(f: OptionField, v: DraftValue | undefined): string {
  if (f.kind === 'json') return (f.validate ?? validateRatioJson)(typeof v === 'string' ? v : '')
  if (f.kind === 'number' || f.kind === 'int') {
    const label = f.label
    if (v === null || v === undefined || v === '') return t('common.options.required', { label })
    const n = Number(v)
    if (!Number.isFinite(n)) return t('common.options.number', { label })
    if (f.kind === 'int' && !Number.isInteger(n)) return t('common.options.whole', { label })
    if (f.min !== undefined && n < f.min) return t('common.options.min', { label, min: f.min })
    if (f.max !== undefined && n > f.max) return t('common.options.max', { label, max: f.max })
  }
  return ''
}

/** Options that `/api/status` reflects: after saving one, the shell reloads the status. */
export const STATUS_KEYS = new Set([
  'SystemName', 'Logo', 'Footer', 'Language', 'ServerAddress', 'TopUpLink', 'ChatLink', 'QuotaPerUnit',
  'DisplayInCurrencyEnabled', 'EmailVerificationEnabled', 'GitHubOAuthEnabled', 'GitHubClientId',
  'LarkClientId', 'OidcEnabled', 'OidcClientId', 'OidcWellKnown', 'OidcAuthorizationEndpoint',
  'WeChatAuthEnabled', 'WeChatAccountQRCodeImageURL', 'TurnstileCheckEnabled', 'TurnstileSiteKey',
])

export interface SaveFailure {
  key: string
  message: string
}

export interface SaveResult {
  saved: string[]
  failed: SaveFailure[]
}

/** Puts each `key → value` (one PUT per key, in order); every key succeeds or fails on its own. */
export async function saveOptions(
  entries: [string, string][],
  put: (key: string, value: string) => Promise<unknown> = updateOption,
): Promise<SaveResult> {
  const result: SaveResult = { saved: [], failed: [] }
  for (const [key, value] of entries) {
    try {
      await put(key, value)
      result.saved.push(key)
    } catch (e) {
      result.failed.push({ key, message: errorMessage(e) })
    }
  }
  return result
}

export interface OptionsState {
  values: Ref<Record<string, string>>
  loading: Ref<boolean>
  loaded: Ref<boolean>
  error: Ref<string>
  load: () => Promise<void>
  save: (entries: [string, string][]) => Promise<SaveResult>
}

/** The option map of `GET /api/option/`, kept up to date by `save`. */
export function useOptions(): OptionsState {
  const values = ref<Record<string, string>>({})
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref('')

  async function load(): Promise<void> {
    loading.value = true
    error.value = ''
    try {
      values.value = await getOptionMap()
      loaded.value = true
    } catch (e) {
      error.value = errorMessage(e)
    } finally {
      loading.value = false
    }
  }

  async function save(entries: [string, string][]): Promise<SaveResult> {
    const r = await saveOptions(entries)
    if (r.saved.length) {
      const next = { ...values.value }
      for (const [k, v] of entries) {
        if (r.saved.includes(k) && !isSecretKey(k)) next[k] = v
      }
      values.value = next
    }
    return r
  }

  return { values, loading, loaded, error, load, save }
}

const KEY: InjectionKey<OptionsState> = Symbol('options')

/** Creates the Settings page's option state and shares it with the tabs. */
export function provideOptions(): OptionsState {
  const s = useOptions()
  provide(KEY, s)
  return s
}

export function injectOptions(): OptionsState {
  const s = inject(KEY, null)
  if (!s) throw new Error('injectOptions() needs provideOptions() in a parent')
  return s
}

// -- unsaved edits -------------------------------------------------------------------------

/**
 * Cards with a draft register how many unsaved changes they hold; the Settings page asks
 * before leaving (route change or closing the tab) while any card is dirty.
 */
export interface DirtyRegistry {
  register: (id: string, count: () => number, title: () => string) => void
  unregister: (id: string) => void
  /** the titles of the cards with unsaved changes */
  dirty: () => string[]
}

const DIRTY: InjectionKey<DirtyRegistry> = Symbol('dirty')

export function createDirtyRegistry(): DirtyRegistry {
  const cards = ref(new Map<string, { count: () => number; title: () => string }>())
  return {
    register: (id, count, title) => {
      cards.value.set(id, { count, title })
    },
    unregister: (id) => {
      cards.value.delete(id)
    },
    dirty: () => [...cards.value.values()].filter((c) => c.count() > 0).map((c) => c.title()),
  }
}

export function provideDirtyRegistry(): DirtyRegistry {
  const r = createDirtyRegistry()
  provide(DIRTY, r)
  return r
}

/** The registry of the page, or null outside the Settings page. */
export function injectDirtyRegistry(): DirtyRegistry | null {
  return inject(DIRTY, null)
}
