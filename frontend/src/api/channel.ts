/** `/api/channel/*` and `/api/group/` (admin): upstream channels and the provider registry. */
import { ApiError, http, requestEnvelope } from './http'
import type { Channel } from './types'

/**
 * The writable fields of a channel (POST takes them all, PUT any subset plus `id`), typed as
 * on `Channel`. On PUT an empty `key` leaves the stored key(s) unchanged (one key, or several
 * one per line), and a `proxy` sent back with its masked password (********) keeps the saved one.
 */
export type ChannelInput = Partial<
  Pick<
    Channel,
    | 'type'
    | 'name'
    | 'key'
    | 'base_url'
    | 'other'
    | 'models'
    | 'group'
    | 'model_mapping'
    | 'config'
    | 'system_prompt'
    | 'priority'
    | 'weight'
    | 'status'
    | 'tag'
    | 'auto_enable_at'
    | 'test_expect'
    | 'rpm_limit'
    | 'proxy'
    | 'headers'
  >
>

/** The fields a batch edit (`PUT /api/channel/batch`) sets on every selected channel. */
export type ChannelBatchFields = Pick<ChannelInput, 'group' | 'models' | 'priority' | 'weight' | 'status' | 'tag' | 'test_expect' | 'auto_enable_at'>

/** What a tag edit (`PUT /api/channel/tag`) sets on every channel with the tag (`new_tag` renames it). */
export type ChannelTagFields = Omit<ChannelBatchFields, 'status' | 'tag'> & { new_tag?: string }

/** `split` (default): a multi-line key creates one channel per line; `rotate`: one channel uses them all in turn. */
export type KeyMode = 'split' | 'rotate'

export interface CreateChannelResult {
  /** ids of the created channels (one, or one per key line) */
  ids: number[]
}

export interface ChannelTestResult {
  success: boolean
  message: string
  /** seconds */
  time: number
  modelName: string
}

export interface ModelInfo {
  id: string
  object: string
  created: number
  owned_by: string
}

/** One page (0-based, 10 rows, newest first); with `tag`, only the channels with that tag. */
export function listChannels(p: number, tag?: string): Promise<Channel[]> {
  return http.get<Channel[]>('/api/channel/', { p, tag: tag || undefined })
}

/** Every tag in use, sorted. */
export async function listChannelTags(): Promise<string[]> {
  return (await http.get<string[]>('/api/channel/tags')) ?? []
}

/** Enables or disables every channel with the tag; returns how many. */
export async function setTagStatus(tag: string, enabled: boolean): Promise<number> {
  return Number(await http.post<number>(`/api/channel/tag/${enabled ? 'enabled' : 'disabled'}`, { tag })) || 0
}

/** Sets the fields on every channel with the tag; returns how many. */
export async function editTag(tag: string, fields: ChannelTagFields): Promise<number> {
  return Number(await http.put<number>('/api/channel/tag', { tag, ...fields })) || 0
}

/** Sets the same fields on the channels `ids`; returns how many. */
export async function batchEditChannels(ids: number[], fields: ChannelBatchFields): Promise<number> {
  return Number(await http.put<number>('/api/channel/batch', { ids, ...fields })) || 0
}

/** A new channel with the same settings and keys, its name + `suffix` (default " (copy)"); returns its id. */
export async function copyChannel(id: number, opts: { suffix?: string; status?: number } = {}): Promise<number> {
  const data = await http.post<{ id: number }>(`/api/channel/copy/${id}`, opts)
  return Number(data?.id) || 0
}

/** Name, models or group containing the keyword, or the id or one of the keys equal to it (≤ 100 rows). */
export function searchChannels(keyword: string): Promise<Channel[]> {
  return http.get<Channel[]>('/api/channel/search', { keyword })
}

export function getChannel(id: number): Promise<Channel> {
  return http.get<Channel>(`/api/channel/${id}`)
}

export async function createChannel(body: ChannelInput, keyMode: KeyMode = 'split'): Promise<CreateChannelResult> {
  const data = await http.post<{ id?: number; ids?: number[] }>('/api/channel/', { ...body, key_mode: keyMode })
  return { ids: data?.ids ?? (data?.id !== undefined ? [data.id] : []) }
}

/** Updates exactly the fields given (partial update); returns the stored channel. */
export function updateChannel(body: ChannelInput & { id: number }): Promise<Channel> {
  return http.put<Channel>('/api/channel/', body)
}

export function deleteChannel(id: number): Promise<void> {
  return http.del<void>(`/api/channel/${id}`)
}

/** Deletes every manually or automatically disabled channel; returns how many. */
export async function deleteDisabledChannels(): Promise<number> {
  return Number(await http.del<number>('/api/channel/disabled')) || 0
}

/**
 * Sends one test request through the channel (`model` empty = the channel's first model).
 * A failed test is a result (`success: false` with the upstream's message), not an exception;
 * only transport and auth failures throw.
 */
export async function testChannel(id: number, model?: string): Promise<ChannelTestResult> {
  try {
    const env = await requestEnvelope('GET', `/api/channel/test/${id}`, { query: { model } })
    return {
      success: true,
      message: String(env.message ?? ''),
      time: Number(env.time) || 0,
      modelName: String(env.modelName ?? ''),
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 200) {
      const env: Record<string, unknown> = e.envelope ?? {}
      return { success: false, message: e.message, time: Number(env.time) || 0, modelName: String(env.modelName ?? model ?? '') }
    }
    throw e
  }
}

/** Starts the background test of all (or only the disabled) channels; returns the server's message. */
export async function testAllChannels(scope: 'all' | 'disabled' = 'all'): Promise<string> {
  const env = await requestEnvelope('GET', '/api/channel/test', { query: { scope } })
  return env.message
}

/** Queries the provider and stores the balance; returns it (USD or the provider's currency). */
export async function updateChannelBalance(id: number): Promise<number> {
  const env = await requestEnvelope('GET', `/api/channel/update_balance/${id}`)
  return Number(env.balance) || 0
}

/** Starts the background balance update of every enabled channel; returns the server's message. */
export async function updateAllChannelBalances(): Promise<string> {
  const env = await requestEnvelope('GET', '/api/channel/update_balance')
  return env.message
}

/** Every built-in model name (for "Fill all models"). */
export async function listAllModels(): Promise<string[]> {
  const data = await http.get<ModelInfo[]>('/api/channel/models')
  return (data ?? []).map((m) => m.id)
}

/** The user groups known to billing (GroupRatio keys). */
export async function listGroups(): Promise<string[]> {
  return (await http.get<string[]>('/api/group/')) ?? []
}

/** One field of a channel's `config` JSON, as the channel form shows it (`adaptors/registry.py` ConfigField). */
export interface ChannelConfigField {
  key: string
  label: string
  placeholder: string
  help: string
  /** a multi-line input (JSON credentials) */
  textarea: boolean
  /** rendered as a password input */
  secret: boolean
  required: boolean
}

/** One channel type of the server's provider registry (`ProviderSpec.to_api()`, snake_case as sent). */
export interface ChannelTypeSpec {
  /** the type id stored in `channel.type` */
  id: number
  name: string
  /** default upstream base URL; '' when the type has none */
  base_url: string
  /** the adaptor family; null = stored, not relayed yet */
  adaptor: string | null
  /** the modes the adaptor serves (chat, completions, embeddings); [] when not supported */
  modes: string[]
  path_prefix: string
  strip_v1: boolean
  auth: string
  /** default model list (suggestions) */
  models: string[]
  test_model: string
  /** the currency of the balance the server can query, or null (no balance API) */
  balance: 'USD' | 'CNY' | null
  balance_url: string
  quirks: string[]
  /** tag colour (#rrggbb) */
  color: string
  /** a note shown under the type select */
  note: string
  /** a note shown under the base URL */
  base_url_note: string
  base_url_required: boolean
  /** how the key field is written when it is not a plain API key, e.g. "AK|SK" */
  key_format: string
  /** template building the key from config fields, e.g. "{ak}|{sk}|{region}" ('' = none) */
  key_from_config: string
  config: ChannelConfigField[]
  deprecated: boolean
  /** OneRelay routes channels of this type (has an adaptor) */
  supported: boolean
}

/** The provider registry: every channel type the server knows, by id. */
export async function listChannelTypes(): Promise<ChannelTypeSpec[]> {
  return (await http.get<ChannelTypeSpec[]>('/api/channel/types')) ?? []
}
