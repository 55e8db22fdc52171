/**
 * Usage limits of a token or a user (README "Limits"), as the limits editor edits them: RPM and
 * TPM, daily / weekly / monthly / 5-hour quotas (in the quota formatter's unit: USD or quota
 * points) and per-model RPM/TPM rows. Pure helpers, unit-tested in tests/unit/limits.spec.ts.
 */
import type { Limits } from '@/api/types'
import type { MessageKey } from '@/i18n'

export const PERIODS = ['daily', 'weekly', 'monthly', '5h'] as const
export type Period = (typeof PERIODS)[number]

/** The server's largest count (services/limits.MAX_LIMIT). */
export const MAX_LIMIT = 10 ** 15

export interface ModelLimitRow {
  model: string
  rpm: number | null
  tpm: number | null
}

export interface LimitsDraft {
  rpm: number | null
  tpm: number | null
  /** periodic quotas in the display unit (USD or quota points); null = no limit */
  periods: Record<Period, number | null>
  models: ModelLimitRow[]
}

export interface QuotaUnit {
  toDisplay: (quota: number) => number
  fromDisplay: (value: number | null | undefined) => number
}

const pos = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0)

/** A stored limits object → the editor's draft (0 / absent → empty fields). */
export function limitsToDraft(limits: Limits | null | undefined, unit: QuotaUnit): LimitsDraft {
  const l = limits ?? {}
  const periods = {} as Record<Period, number | null>
  for (const p of PERIODS) periods[p] = pos(l[p]) ? unit.toDisplay(pos(l[p])) : null
  return {
    rpm: pos(l.rpm) || null,
    tpm: pos(l.tpm) || null,
    periods,
    models: Object.entries(l.models ?? {}).map(([model, v]) => ({ model, rpm: pos(v?.rpm) || null, tpm: pos(v?.tpm) || null })),
  }
}

export function emptyLimitsDraft(): LimitsDraft {
  return { rpm: null, tpm: null, periods: { daily: null, weekly: null, monthly: null, '5h': null }, models: [] }
}

/**
 * The draft → the `limits` to send ({} = none). A periodic quota whose displayed value still
 * equals the stored one's keeps the stored quota exactly (USD rounding never rewrites it).
 */
export function draftToLimits(d: LimitsDraft, unit: QuotaUnit, original?: Limits | null): Limits {
  const out: Limits = {}
  if (pos(d.rpm)) out.rpm = Math.round(d.rpm as number)
  if (pos(d.tpm)) out.tpm = Math.round(d.tpm as number)
  for (const p of PERIODS) {
    const v = d.periods[p]
    if (!pos(v)) continue
    const stored = pos(original?.[p])
    out[p] = stored && unit.toDisplay(stored) === v ? stored : unit.fromDisplay(v)
    if (!out[p]) delete out[p]
  }
  const models: NonNullable<Limits['models']> = {}
  for (const r of d.models) {
    const name = r.model.trim()
    if (!name) continue
    const m: { rpm?: number; tpm?: number } = {}
    if (pos(r.rpm)) m.rpm = Math.round(r.rpm as number)
    if (pos(r.tpm)) m.tpm = Math.round(r.tpm as number)
    if (m.rpm || m.tpm) models[name] = m
  }
  if (Object.keys(models).length) out.models = models
  return out
}

export type LimitsErrors = Record<string, MessageKey>

function countError(v: number | null): MessageKey | null {
  if (v === null || v === undefined) return null
  if (!Number.isFinite(v) || !Number.isInteger(v)) return 'common.limits.whole'
  if (v < 0 || v > MAX_LIMIT) return 'common.limits.range'
  return null
}

/**
 * Why the draft cannot be saved, per field path (`rpm`, `periods.daily`, `models.0.model`...),
 * as message keys; {} when it can.
 */
export function limitsErrors(d: LimitsDraft): LimitsErrors {
  const e: LimitsErrors = {}
  for (const k of ['rpm', 'tpm'] as const) {
    const err = countError(d[k])
    if (err) e[k] = err
  }
  for (const p of PERIODS) {
    const v = d.periods[p]
    if (v !== null && v !== undefined && (!Number.isFinite(v) || v < 0)) e['periods.' + p] = 'common.limits.range'
  }
  const seen = new Set<string>()
  d.models.forEach((r, i) => {
    const name = r.model.trim()
    const rpmErr = countError(r.rpm)
    const tpmErr = countError(r.tpm)
    if (rpmErr) e[`models.${i}.rpm`] = rpmErr
    if (tpmErr) e[`models.${i}.tpm`] = tpmErr
    if (!name) {
      if (pos(r.rpm) || pos(r.tpm)) e[`models.${i}.model`] = 'common.limits.modelRequired'
      return
    }
    if (seen.has(name)) e[`models.${i}.model`] = 'common.limits.modelTwice'
    seen.add(name)
    if (!pos(r.rpm) && !pos(r.tpm) && !rpmErr && !tpmErr) e[`models.${i}.rpm`] = 'common.limits.modelEmpty'
  })
  return e
}

/** Whether a stored limits object limits anything. */
export function hasLimits(l: Limits | null | undefined): boolean {
  if (!l) return false
  if (pos(l.rpm) || pos(l.tpm) || PERIODS.some((p) => pos(l[p]))) return true
  return Object.values(l.models ?? {}).some((m) => pos(m?.rpm) || pos(m?.tpm))
}

/**
 * A short description of the limits (for a tag's tooltip): `60 RPM · 100000 TPM · daily $10.00 ·
 * gpt-4o 5 RPM`. `quota` formats a quota; `label` names a period.
 */
export function limitsSummary(l: Limits | null | undefined, quota: (q: number) => string, label: (p: Period) => string): string {
  if (!l) return ''
  const parts: string[] = []
  if (pos(l.rpm)) parts.push(`${l.rpm} RPM`)
  if (pos(l.tpm)) parts.push(`${l.tpm} TPM`)
  for (const p of PERIODS) if (pos(l[p])) parts.push(`${label(p)} ${quota(l[p] as number)}`)
  for (const [m, v] of Object.entries(l.models ?? {})) {
    const bits = [pos(v?.rpm) ? `${v.rpm} RPM` : '', pos(v?.tpm) ? `${v.tpm} TPM` : ''].filter(Boolean)
    if (bits.length) parts.push(`${m} ${bits.join(' / ')}`)
  }
  return parts.join(' · ')
}
