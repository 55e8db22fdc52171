/**
 * Checks of root's billing and limit options, as the server makes them (models/options.py,
 * services/billing.check_option, services/limits.parse_limits): '' = fine, else why not, shown
 * under the field while typing. The server checks again and its message shows on failure.
 * Pure helpers, unit-tested in tests/unit/limits.spec.ts.
 */
import { t } from '@/i18n'
import { formatTime } from '@/utils/time'

function parse(text: string, empty: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const src = text.trim() || empty
  try {
    return { ok: true, value: JSON.parse(src) }
  } catch (e) {
    return { ok: false, error: t('common.options.notJson', { reason: (e as Error).message || t('common.options.syntaxError') }) }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isWhole = (v: unknown): v is number => isNum(v) && Number.isInteger(v)

/** GroupUpgradeRules: {group: positive whole quota threshold}. */
export function validateGroupUpgradeRules(text: string): string {
  const p = parse(text, '{}')
  if (!p.ok) return p.error
  if (!isObject(p.value)) return t('setting.validate.object', { example: '{"vip": 5000000}' })
  for (const [g, v] of Object.entries(p.value)) {
    if (!g.trim()) return t('setting.validate.emptyName')
    if (!isWhole(v) || v <= 0 || v > 1e18) return t('setting.validate.threshold', { key: g })
  }
  return ''
}

/** TopupBonusPeriods: [{name, from, to, ratio}] with from < to and a ratio from 1 to 10 (at most 100). */
export function validateBonusPeriods(text: string): string {
  const p = parse(text, '[]')
  if (!p.ok) return p.error
  if (!Array.isArray(p.value) || p.value.length > 100) return t('setting.validate.periodsArray')
  for (const [i, per] of p.value.entries()) {
    if (!isObject(per) || !isNum(per.from) || !isNum(per.to) || !isNum(per.ratio)) return t('setting.validate.periodShape', { n: i + 1 })
    if (!(per.from < per.to)) return t('setting.validate.periodOrder', { n: i + 1 })
    if (per.ratio < 1 || per.ratio > 10) return t('setting.validate.periodRatio', { n: i + 1 })
  }
  return ''
}

/** The periods as readable lines: `Launch: 2026-01-01 00:00 → 2026-01-08 00:00, ×1.2 (running)`. */
export function bonusPeriodLines(text: string, nowSec: number = Date.now() / 1000): string[] {
  const p = parse(text, '[]')
  if (!p.ok || !Array.isArray(p.value)) return []
  return p.value.filter(isObject).map((per, i) => {
    const from = Number(per.from)
    const to = Number(per.to)
    const state = nowSec < from ? t('setting.validate.upcoming') : nowSec >= to ? t('setting.validate.over') : t('setting.validate.running')
    return t('setting.validate.periodLine', {
      name: String(per.name || '#' + (i + 1)),
      from: formatTime(from).slice(0, 16),
      to: formatTime(to).slice(0, 16),
      ratio: Number(per.ratio),
      state,
    })
  })
}

/** TopupPlans: [{name, price, quota, note}] with a name and a whole quota of 0 or more (at most 50). */
export function validateTopupPlans(text: string): string {
  const p = parse(text, '[]')
  if (!p.ok) return p.error
  if (!Array.isArray(p.value) || p.value.length > 50) return t('setting.validate.plansArray')
  for (const [i, plan] of p.value.entries()) {
    if (!isObject(plan) || typeof plan.name !== 'string' || !plan.name.trim()) return t('setting.validate.planName', { n: i + 1 })
    const q = plan.quota ?? 0
    if (!isWhole(q) || q < 0) return t('setting.validate.planQuota', { n: i + 1 })
  }
  return ''
}

/** ModelPrice: {model: USD per request, 0 to 1000000}. */
export function validateModelPrice(text: string): string {
  const p = parse(text, '{}')
  if (!p.ok) return p.error
  if (!isObject(p.value)) return t('setting.validate.object', { example: '{"gpt-4o": 0.01}' })
  for (const [m, v] of Object.entries(p.value)) {
    if (!isNum(v) || v < 0 || v > 1e6) return t('setting.validate.price', { key: m })
  }
  return ''
}

/** UserUsableGroups: {group: description}. */
export function validateUsableGroups(text: string): string {
  const p = parse(text, '{}')
  if (!p.ok) return p.error
  if (!isObject(p.value)) return t('setting.validate.object', { example: '{"vip": "Faster channels"}' })
  for (const [g, v] of Object.entries(p.value)) {
    if (!g.trim()) return t('setting.validate.emptyName')
    if (typeof v !== 'string') return t('setting.validate.description', { key: g })
  }
  return ''
}

/** GroupLimits: {group: {rpm, tpm, models: {model: {rpm, tpm}}}} (no periodic quotas per group). */
export function validateGroupLimits(text: string): string {
  const p = parse(text, '{}')
  if (!p.ok) return p.error
  if (!isObject(p.value)) return t('setting.validate.object', { example: '{"default": {"rpm": 60}}' })
  const count = (v: unknown) => v === undefined || (isWhole(v) && v >= 0 && v <= 1e15)
  for (const [g, lim] of Object.entries(p.value)) {
    if (!isObject(lim)) return t('setting.validate.limitsObject', { key: g, example: '{"rpm": 60}' })
    for (const [k, v] of Object.entries(lim)) {
      if (k === 'models') {
        if (!isObject(v)) return t('setting.validate.limitsModels', { key: g, pair: '{"rpm", "tpm"}' })
        for (const [m, ml] of Object.entries(v)) {
          if (!m.trim() || !isObject(ml)) return t('setting.validate.limitsModels', { key: g, pair: '{"rpm", "tpm"}' })
          for (const [kk, vv] of Object.entries(ml)) {
            if (kk !== 'rpm' && kk !== 'tpm') return t('setting.validate.limitsModelKey', { key: `${g}.models.${m}`, name: kk })
            if (!count(vv)) return t('setting.validate.limitsCount', { key: `${g}.models.${m}.${kk}` })
          }
        }
      } else if (k === 'rpm' || k === 'tpm') {
        if (!count(v)) return t('setting.validate.limitsCount', { key: `${g}.${k}` })
      } else {
        return t('setting.validate.limitsKey', { key: g, name: k })
      }
    }
  }
  return ''
}
