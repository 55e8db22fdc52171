/**
 * The console's languages (vue-i18n, Composition API mode). Messages live per area under
 * locales/<lang>/<area>.ts; `t('area.key')` is type-checked against the English tree.
 *
 * The language is the user's pick (remembered per browser), else the browser's preferred
 * language when it is Chinese or English, else the server's default (`/api/status` language).
 * The chosen language also goes to the server as `Accept-Language`, so API messages match.
 */
import { createI18n, useI18n } from 'vue-i18n'
import en from './locales/en'
import zhCN from './locales/zh-CN'
import type { Locale, MessageKey, MessageValues, Messages } from './schema'

export { LOCALES } from './schema'
export type { Locale, MessageKey, MessageValues, Messages } from './schema'

const KEY = 'onerelay.locale'

/** A language tag (`zh`, `zh-Hans-CN`, `en-GB`) as one of the console's languages, or null. */
export function normalizeLocale(tag: string | null | undefined): Locale | null {
  if (!tag) return null
  const t = tag.toLowerCase()
  if (t.startsWith('zh')) return 'zh-CN'
  if (t.startsWith('en')) return 'en'
  return null
}

function savedLocale(): Locale | null {
  try {
    return normalizeLocale(localStorage.getItem(KEY))
  } catch {
    return null
  }
}

function browserLocale(): Locale | null {
  if (typeof navigator === 'undefined') return null
  for (const tag of navigator.languages ?? [navigator.language]) {
    const l = normalizeLocale(tag)
    if (l) return l
  }
  return null
}

const numberFormats = {
  en: {
    integer: { maximumFractionDigits: 0 },
    decimal: { minimumFractionDigits: 2, maximumFractionDigits: 2 },
    percent: { style: 'percent', maximumFractionDigits: 1 },
    usd: { style: 'currency', currency: 'USD', currencyDisplay: 'narrowSymbol' },
  },
  'zh-CN': {
    integer: { maximumFractionDigits: 0 },
    decimal: { minimumFractionDigits: 2, maximumFractionDigits: 2 },
    percent: { style: 'percent', maximumFractionDigits: 1 },
    usd: { style: 'currency', currency: 'USD', currencyDisplay: 'narrowSymbol' },
  },
} as const

const datetimeFormats = {
  en: {
    date: { year: 'numeric', month: 'short', day: 'numeric' },
    datetime: { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false },
    day: { month: 'short', day: 'numeric' },
  },
  'zh-CN': {
    date: { year: 'numeric', month: 'long', day: 'numeric' },
    datetime: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false },
    day: { month: 'long', day: 'numeric' },
  },
} as const

export const i18n = createI18n<[Messages], Locale, false>({
  legacy: false,
  locale: savedLocale() ?? browserLocale() ?? 'en',
  fallbackLocale: 'en',
  messages: { en, 'zh-CN': zhCN },
  numberFormats,
  datetimeFormats,
  missingWarn: false,
  fallbackWarn: false,
})

/** The console's current language. */
export function currentLocale(): Locale {
  return i18n.global.locale.value
}

/** Switch language; `remember` keeps the choice for this browser (the switcher does). */
export function setLocale(locale: Locale, remember = true): void {
  i18n.global.locale.value = locale
  if (remember) {
    try {
      localStorage.setItem(KEY, locale)
    } catch {
      /* ignore */
    }
  }
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}

/** The server's default language applies only when neither the user nor the browser chose one. */
export function applyServerDefault(tag: string | null | undefined): void {
  const l = normalizeLocale(tag)
  if (l && !savedLocale() && !browserLocale()) setLocale(l, false)
}

type Translate = (key: MessageKey, values?: MessageValues) => string

function translate(key: MessageKey, values?: MessageValues): string {
  const g = i18n.global
  if (values === undefined) return g.t(key)
  return typeof values === 'number' ? g.t(key, values) : g.t(key, values)
}

/** `t` outside components (stores, helpers, API error text): typed keys, current language. */
export const t: Translate = translate

/**
 * In components: `const { t, n, d, locale } = useT()`. `t` takes only keys that exist
 * (vue-tsc checks every call, templates included); `n`/`d` format numbers and dates
 * with the locale's formats (`n(x, 'integer')`, `d(date, 'datetime')`).
 */
export function useT() {
  const c = useI18n({ useScope: 'global' })
  return { t: translate, n: c.n, d: c.d, locale: c.locale }
}

if (typeof document !== 'undefined') document.documentElement.lang = currentLocale()
