import { currentLocale, i18n, type Locale, type MessageKey } from '@/i18n'

/** A number with the current language's grouping: `1,234,567` (en and zh-CN alike). */
export function formatNumber(n: number, opts: Intl.NumberFormatOptions = {}, locale: Locale = currentLocale()): string {
  return (Number(n) || 0).toLocaleString(locale === 'zh-CN' ? 'zh-CN' : 'en-US', opts)
}

/**
 * A counted message (`'{n} request | {n} requests'`): the plural form for `count`, with `{n}`
 * the count formatted for the current language (`1,200 requests`, `1,200 次请求`).
 */
export function countText(key: MessageKey, count: number, values: Record<string, unknown> = {}): string {
  return i18n.global.t(key, { ...values, n: formatNumber(count) }, count)
}
