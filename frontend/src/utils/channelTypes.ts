/**
 * Pure helpers over the server's provider registry (`GET /api/channel/types`,
 * `adaptors/registry.py`). The console keeps no copy of the channel type table: the
 * list is loaded once by the `useChannelTypes` store and handed to these functions.
 */
import type { ChannelConfigField, ChannelTypeSpec } from '@/api/channel'
import { t, t as translate } from '@/i18n'

export type { ChannelConfigField, ChannelTypeSpec }

/** The tag colour of a type the registry does not list (and the registry's own default). */
export const NEUTRAL_TYPE_COLOR = '#64748b'

/** The placeholder entry of a type id the registry does not list: "Type N", not routed. */
export function unknownChannelType(id: number): ChannelTypeSpec {
  return normalizeChannelType({ id: Number(id), name: t('common.channelTypes.type', { id }) })
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : ''
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

function normalizeField(raw: Partial<ChannelConfigField>): ChannelConfigField {
  return {
    key: str(raw.key),
    label: str(raw.label) || str(raw.key),
    placeholder: str(raw.placeholder),
    help: str(raw.help),
    textarea: Boolean(raw.textarea),
    secret: Boolean(raw.secret),
    required: Boolean(raw.required),
  }
}

/** One registry entry with every field present and of its type (missing ones get their defaults). */
export function normalizeChannelType(raw: Partial<ChannelTypeSpec> & { id: number }): ChannelTypeSpec {
  const balance = raw.balance === 'USD' || raw.balance === 'CNY' ? raw.balance : null
  return {
    id: Number(raw.id),
    name: str(raw.name) || t('common.channelTypes.type', { id: raw.id }),
    base_url: str(raw.base_url),
    adaptor: typeof raw.adaptor === 'string' ? raw.adaptor : null,
    modes: strList(raw.modes),
    path_prefix: str(raw.path_prefix),
    strip_v1: Boolean(raw.strip_v1),
    auth: str(raw.auth),
    models: strList(raw.models),
    test_model: str(raw.test_model),
    balance,
    balance_url: str(raw.balance_url),
    quirks: strList(raw.quirks),
    color: /^#[0-9a-f]{6}$/i.test(str(raw.color)) ? str(raw.color) : NEUTRAL_TYPE_COLOR,
    note: str(raw.note),
    base_url_note: str(raw.base_url_note),
    base_url_required: Boolean(raw.base_url_required),
    key_format: str(raw.key_format),
    key_from_config: str(raw.key_from_config),
    config: Array.isArray(raw.config) ? raw.config.map(normalizeField).filter((f) => f.key) : [],
    deprecated: Boolean(raw.deprecated),
    supported: Boolean(raw.supported),
  }
}

/** The registry as the console uses it: normalised and sorted by id. */
export function normalizeChannelTypes(list: unknown): ChannelTypeSpec[] {
  if (!Array.isArray(list)) return []
  return list
    .filter((t): t is ChannelTypeSpec => Boolean(t) && typeof t === 'object' && Number.isFinite(Number((t as ChannelTypeSpec).id)))
    .map(normalizeChannelType)
    .sort((a, b) => a.id - b.id)
}

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g

/** The config keys a `key_from_config` template names, in order. */
export function templateFields(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1])
}

/**
 * Fills a `key_from_config` template ("{ak}|{sk}|{region}") from the channel's config
 * values (trimmed). '' when there is no template or any placeholder's value is empty.
 */
export function fillKeyTemplate(template: string, config: Record<string, unknown>): string {
  if (!template) return ''
  let empty = false
  const out = template.replace(PLACEHOLDER, (_, key: string) => {
    const v = config[key]
    const s = typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : ''
    if (!s) empty = true
    return s
  })
  return empty ? '' : out
}

export interface TypeOption {
  label: string
  value: number
}

export interface TypeOptionGroup {
  type: 'group'
  label: string
  key: string
  children: TypeOption[]
}

/** Searchable select options: types OneRelay routes first, then the stored-only ones (each by id). */
export function channelTypeOptions(types: ChannelTypeSpec[]): TypeOptionGroup[] {
  const opt = (t: ChannelTypeSpec): TypeOption => ({ label: t.name, value: t.id })
  const sorted = [...types].sort((a, b) => a.id - b.id)
  return [
    { type: 'group', label: t('common.channelTypes.routed'), key: 'supported', children: sorted.filter((t) => t.supported).map(opt) },
    { type: 'group', label: t('common.channelTypes.notRouted'), key: 'unsupported', children: sorted.filter((t) => !t.supported).map(opt) },
  ]
}

/** The base URL input's placeholder: the default address, else the example the note gives, else "https://…". */
export function baseUrlPlaceholder(t: ChannelTypeSpec): string {
  if (t.base_url) return t.base_url
  const example = t.base_url_note.match(/https?:\/\/[^\s,;)]+/)
  return example ? example[0].replace(/[.,;:]+$/, '') : 'https://…'
}

/** The help under the base URL input. */
export function baseUrlHelp(t: ChannelTypeSpec): string {
  return t.base_url_note || (t.base_url ? translate('common.channelTypes.baseUrlDefault', { url: t.base_url }) : '')
}
