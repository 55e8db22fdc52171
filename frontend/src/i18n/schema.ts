import type en from './locales/en'

/** A message tree with every leaf widened to `string`: the shape every language must have. */
export type Widen<T> = { [K in keyof T]: T[K] extends string ? string : Widen<T[K]> }

/** The console's messages, as English defines them. zh-CN is typed against this, so vue-tsc
 *  fails on a key missing or extra in zh-CN; tests/unit/i18n.spec.ts checks both ways at run time. */
export type Messages = Widen<typeof en>

export type Locale = 'en' | 'zh-CN'
export const LOCALES: ReadonlyArray<{ value: Locale; label: string }> = [
  { value: 'zh-CN', label: '简体中文' },
  { value: 'en', label: 'English' },
]

/** Every message key as a dotted path (`channel.list.title`): the only keys `t` accepts. */
export type MessageKey<T = Messages, P extends string = ''> = {
  [K in keyof T & string]: T[K] extends string ? `${P}${K}` : MessageKey<T[K], `${P}${K}.`>
}[keyof T & string]

/** Named values for `{placeholder}`s, or a count for plural messages (`a | b | c`). */
export type MessageValues = Record<string, unknown> | number
