/**
 * Channel power tools without Vue: the checks of the tag, auto-enable time and expected test
 * reply fields, and the body of a batch or tag edit built from the fields the operator chose.
 */
import type { ChannelBatchFields, ChannelTagFields } from '@/api/channel'
import { t } from '@/i18n'
import { splitCsv } from './channelForm'

export const TAG_MAX = 64
export const TEST_EXPECT_MAX = 500

/** Why a tag is refused ('' = fine). */
export function tagError(tag: string): string {
  return tag.trim().length > TAG_MAX ? t('channel.ops.tagTooLong', { max: TAG_MAX }) : ''
}

/**
 * Why an expected-reply pattern is refused ('' = fine, an empty pattern included): the browser's
 * `new RegExp` catches most mistakes before the server's `re.compile` sees them.
 */
export function testExpectError(pattern: string): string {
  if (!pattern) return ''
  if (pattern.length > TEST_EXPECT_MAX) return t('channel.ops.patternTooLong', { max: TEST_EXPECT_MAX })
  // Python's leading inline flags ("(?i)hello") mean nothing to JavaScript: checked without them
  const flags = /^\(\?([aiLmsux]+)\)/.exec(pattern)
  try {
    // and Python's named groups written the JavaScript way
    const body = (flags ? pattern.slice(flags[0].length) : pattern).replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
    new RegExp(body, flags && flags[1].includes('i') ? 'i' : '')
    return ''
  } catch (e) {
    return t('channel.ops.patternInvalid', { detail: (e as Error).message.replace(/^Invalid regular expression: /, '') })
  }
}

/** A date picker's milliseconds → unix seconds (0 = none). */
export function toUnixSeconds(ms: number | null | undefined): number {
  return ms && ms > 0 ? Math.floor(ms / 1000) : 0
}

/** Unix seconds → a date picker's milliseconds (null = none). */
export function fromUnixSeconds(s: number | null | undefined): number | null {
  return s && s > 0 ? s * 1000 : null
}

/** One field of the batch / tag dialog: `on` = this field is changed. */
export interface OpsField<T> {
  on: boolean
  value: T
}

export interface BatchForm {
  group: OpsField<string[]>
  models: OpsField<string[]>
  priority: OpsField<number | null>
  weight: OpsField<number | null>
  /** 1 enabled, 2 disabled */
  status: OpsField<number>
  tag: OpsField<string>
  test_expect: OpsField<string>
  /** milliseconds (date picker) or null = never */
  auto_enable_at: OpsField<number | null>
}

export function emptyBatchForm(): BatchForm {
  return {
    group: { on: false, value: [] },
    models: { on: false, value: [] },
    priority: { on: false, value: 0 },
    weight: { on: false, value: 0 },
    status: { on: false, value: 1 },
    tag: { on: false, value: '' },
    test_expect: { on: false, value: '' },
    auto_enable_at: { on: false, value: null },
  }
}

/** The form's errors by field (only the fields switched on are checked). */
export function batchErrors(f: BatchForm, tagMode = false): Record<string, string> {
  const e: Record<string, string> = {}
  if (f.models.on && !f.models.value.length) e.models = t('channel.errors.modelsRequired')
  if (f.priority.on && (f.priority.value === null || !Number.isFinite(f.priority.value))) e.priority = t('channel.errors.number')
  if (f.weight.on && (f.weight.value === null || !Number.isFinite(f.weight.value) || f.weight.value < 0)) e.weight = t('channel.errors.number')
  if (f.tag.on) {
    const err = tagError(f.tag.value)
    if (err) e.tag = err
    else if (tagMode && !f.tag.value.trim()) e.tag = t('channel.ops.newTagRequired')
  }
  if (f.test_expect.on) {
    const err = testExpectError(f.test_expect.value)
    if (err) e.test_expect = err
  }
  return e
}

/** The body of `PUT /api/channel/batch` (without `ids`): only the fields switched on. */
export function batchPayload(f: BatchForm): ChannelBatchFields {
  const out: ChannelBatchFields = {}
  if (f.group.on) out.group = splitCsv(f.group.value.join(',')).join(',') || 'default'
  if (f.models.on) out.models = splitCsv(f.models.value.join(',')).join(',')
  if (f.priority.on && f.priority.value !== null) out.priority = Math.trunc(f.priority.value)
  if (f.weight.on && f.weight.value !== null) out.weight = Math.max(0, Math.trunc(f.weight.value))
  if (f.status.on) out.status = f.status.value === 1 ? 1 : 2
  if (f.tag.on) out.tag = f.tag.value.trim()
  if (f.test_expect.on) out.test_expect = f.test_expect.value
  if (f.auto_enable_at.on) out.auto_enable_at = toUnixSeconds(f.auto_enable_at.value)
  return out
}

/** The body of `PUT /api/channel/tag` (without `tag`): the tag field renames (`new_tag`), no status. */
export function tagPayload(f: BatchForm): ChannelTagFields {
  const { status: _status, tag, ...rest } = batchPayload(f)
  void _status
  const out: ChannelTagFields = { ...rest }
  if (tag !== undefined) out.new_tag = tag
  return out
}

/** How many fields a batch form changes. */
export function changedCount(f: BatchForm): number {
  return Object.values(f).filter((x) => (x as OpsField<unknown>).on).length
}
