import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import en from '@/i18n/locales/en'
import zhCN from '@/i18n/locales/zh-CN'
import { normalizeLocale } from '@/i18n'

type Tree = { [k: string]: string | Tree }

function flatten(tree: Tree, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix ? `${prefix}.${k}` : k
    if (typeof v === 'string') out.set(key, v)
    else for (const [kk, vv] of flatten(v, key)) out.set(kk, vv)
  }
  return out
}

const EN = flatten(en as unknown as Tree)
const ZH = flatten(zhCN as unknown as Tree)
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

function sources(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) {
      if (name !== 'i18n') out.push(...sources(p))
    } else if (/\.(vue|ts)$/.test(name)) out.push(p)
  }
  return out
}

describe('console messages', () => {
  it('every English key exists in zh-CN', () => {
    expect([...EN.keys()].filter((k) => !ZH.has(k))).toEqual([])
  })
  it('every zh-CN key exists in English', () => {
    expect([...ZH.keys()].filter((k) => !EN.has(k))).toEqual([])
  })
  it('no message is empty, and both languages use the same placeholders', () => {
    for (const [k, v] of EN) {
      expect(v.trim(), k).not.toBe('')
      expect(ZH.get(k)?.trim(), k).not.toBe('')
      expect(placeholders(ZH.get(k) ?? ''), k).toEqual(placeholders(v))
    }
  })
  it('every key the source uses is defined', () => {
    const root = join(__dirname, '../../src')
    const missing: string[] = []
    for (const file of sources(root)) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/\b(?:t|te|tm|\$t)\(\s*['"`]([a-zA-Z][\w.]*)['"`]/g)) {
        if (!EN.has(m[1]) && ![...EN.keys()].some((k) => k.startsWith(m[1] + '.'))) missing.push(`${file}: ${m[1]}`)
      }
    }
    expect(missing).toEqual([])
  })
  it('the source translates only through the typed t (no $t, no untyped useI18n)', () => {
    const root = join(__dirname, '../../src')
    const bad = sources(root).filter((f) => /\$t\(|from 'vue-i18n'/.test(readFileSync(f, 'utf8')))
    expect(bad).toEqual([])
  })
  it('language tags map to the console languages', () => {
    expect(normalizeLocale('zh')).toBe('zh-CN')
    expect(normalizeLocale('zh-Hans-CN')).toBe('zh-CN')
    expect(normalizeLocale('en-GB')).toBe('en')
    expect(normalizeLocale('fr')).toBeNull()
  })
})
