import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { listChannelTypes } from '@/api/channel'
import { useChannelTypes } from '@/stores/channelTypes'
import {
  baseUrlHelp,
  baseUrlPlaceholder,
  channelTypeOptions,
  fillKeyTemplate,
  normalizeChannelType,
  normalizeChannelTypes,
  templateFields,
  unknownChannelType,
} from '@/utils/channelTypes'
import { envelope, TYPES } from './channelTypesFixture'

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status })
}

/** fetch answering `/api/channel/types` with the given replies in turn (the last one repeats). */
function fakeFetch(...replies: (() => Response | Promise<Response>)[]) {
  const f = vi.fn()
  for (const r of replies) f.mockImplementationOnce(async () => r())
  f.mockImplementation(async () => replies[replies.length - 1]())
  vi.stubGlobal('fetch', f)
  return f
}

afterEach(() => vi.unstubAllGlobals())

describe('listChannelTypes', () => {
  it('GETs /api/channel/types and unwraps the envelope', async () => {
    const f = fakeFetch(() => json(envelope(TYPES)))
    await expect(listChannelTypes()).resolves.toEqual(TYPES)
    const [url, init] = f.mock.calls[0] as [string, RequestInit]
    expect(url).toBe('/api/channel/types')
    expect(init.method).toBe('GET')
  })
  it('surfaces the server message', async () => {
    fakeFetch(() => json({ success: false, message: 'No permission to do this, not authorized' }))
    await expect(listChannelTypes()).rejects.toThrow('No permission to do this, not authorized')
  })
})

describe('fillKeyTemplate', () => {
  it('fills every {field} from the config', () => {
    expect(fillKeyTemplate('{ak}|{sk}|{region}', { ak: 'A', sk: 'S', region: 'us-east-1' })).toBe('A|S|us-east-1')
    expect(fillKeyTemplate('{vertex_ai_project_id}', { vertex_ai_project_id: 'my-proj', region: 'x' })).toBe('my-proj')
  })
  it('is empty when any placeholder is empty, missing or blank', () => {
    expect(fillKeyTemplate('{ak}|{sk}|{region}', { ak: 'A' })).toBe('')
    expect(fillKeyTemplate('{ak}|{sk}|{region}', { ak: 'A', sk: 'S', region: '  ' })).toBe('')
    expect(fillKeyTemplate('{ak}|{sk}', { ak: 'A', sk: { nested: true } })).toBe('')
    expect(fillKeyTemplate('{vertex_ai_project_id}', {})).toBe('')
  })
  it('is empty without a template and trims values', () => {
    expect(fillKeyTemplate('', { ak: 'A' })).toBe('')
    expect(fillKeyTemplate('{ak}|{sk}', { ak: ' A ', sk: 'S\n' })).toBe('A|S')
  })
  it('lists the fields a template names', () => {
    expect(templateFields('{ak}|{sk}|{region}')).toEqual(['ak', 'sk', 'region'])
    expect(templateFields('')).toEqual([])
  })
})

describe('channel type helpers', () => {
  it('groups the select by supported, each group by id', () => {
    const groups = channelTypeOptions(TYPES)
    expect(groups.map((g) => [g.key, g.label])).toEqual([
      ['supported', 'Routed by OneRelay'],
      ['unsupported', 'Not routed yet (stored only)'],
    ])
    expect(groups[0].children).toEqual([
      { label: 'OpenAI', value: 1 },
      { label: 'Azure OpenAI', value: 3 },
      { label: 'Anthropic', value: 14 },
      { label: 'DeepSeek', value: 36 },
      { label: 'OpenAI-compatible', value: 50 },
    ])
    expect(groups[1].children.map((o) => o.value)).toEqual([15, 33, 42])
    expect(channelTypeOptions([]).every((g) => g.children.length === 0)).toBe(true)
  })
  it('gives an unknown id a neutral "Type N" entry', () => {
    const t = unknownChannelType(99)
    expect(t).toMatchObject({ id: 99, name: 'Type 99', base_url: '', supported: false, balance: null, color: '#64748b', models: [], config: [] })
  })
  it('normalises partial or odd entries and sorts by id', () => {
    const t = normalizeChannelType({ id: 7, name: 'X', color: 'red', balance: 'EUR' as never, config: [{ key: 'a' } as never] })
    expect(t.color).toBe('#64748b')
    expect(t.balance).toBeNull()
    expect(t.config).toEqual([{ key: 'a', label: 'a', placeholder: '', help: '', textarea: false, secret: false, required: false }])
    expect(normalizeChannelTypes(TYPES).map((x) => x.id)).toEqual([1, 3, 14, 15, 33, 36, 42, 50])
    expect(normalizeChannelTypes(TYPES)[0]).toEqual(TYPES[1])
    expect(normalizeChannelTypes(null)).toEqual([])
    expect(normalizeChannelTypes([null, 'x', { id: 2, name: 'API2D' }]).map((x) => x.name)).toEqual(['API2D'])
  })
  it('derives the base URL placeholder and help', () => {
    const by = new Map(TYPES.map((t) => [t.id, t]))
    expect(baseUrlPlaceholder(by.get(1)!)).toBe('https://api.openai.com')
    expect(baseUrlPlaceholder(by.get(3)!)).toBe('https://my-resource.openai.azure.com')
    expect(baseUrlPlaceholder(by.get(50)!)).toBe('http://10.0.0.5:8000/v1')
    expect(baseUrlPlaceholder(by.get(33)!)).toBe('https://…')
    expect(baseUrlPlaceholder(normalizeChannelType({ id: 8, name: 'C', base_url_note: 'e.g. https://my-gateway.example.com.' }))).toBe(
      'https://my-gateway.example.com',
    )
    expect(baseUrlHelp(by.get(1)!)).toMatch(/^Leave empty for api.openai.com/)
    expect(baseUrlHelp(by.get(36)!)).toBe('Leave empty for the default, https://api.deepseek.com.')
    expect(baseUrlHelp(by.get(33)!)).toBe('')
  })
})

describe('useChannelTypes', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('fetches once per session, even with concurrent callers', async () => {
    const f = fakeFetch(() => json(envelope(TYPES)))
    const store = useChannelTypes()
    expect(store.loaded).toBe(false)
    const a = store.load()
    expect(store.loading).toBe(true)
    await Promise.all([a, store.load()])
    await store.load()
    expect(f).toHaveBeenCalledTimes(1)
    expect(store.loaded).toBe(true)
    expect(store.loading).toBe(false)
    expect(store.error).toBe('')
    expect(store.types.map((t) => t.id)).toEqual([1, 3, 14, 15, 33, 36, 42, 50])
    await store.load(true)
    expect(f).toHaveBeenCalledTimes(2)
  })

  it('looks types up, with the "Type N" fallback', async () => {
    fakeFetch(() => json(envelope(TYPES)))
    const store = useChannelTypes()
    await store.load()
    expect(store.name(1)).toBe('OpenAI')
    expect(store.get(3).config.map((c) => c.key)).toEqual(['api_version'])
    expect(store.get(3).base_url_required).toBe(true)
    expect(store.get(15).key_format).toBe('AK|SK')
    expect(store.get(36).models).toEqual(['deepseek-chat', 'deepseek-reasoner'])
    expect(store.balanceCurrency(1)).toBe('USD')
    expect(store.balanceCurrency(36)).toBe('CNY')
    expect(store.balanceCurrency(14)).toBeNull()
    expect(store.isKnown(33)).toBe(true)
    expect(store.isKnown(99)).toBe(false)
    expect(store.name(99)).toBe('Type 99')
    expect(store.get(99).supported).toBe(false)
    expect(store.balanceCurrency(99)).toBeNull()
    expect(fillKeyTemplate(store.get(33).key_from_config, { ak: 'A', sk: 'S', region: 'us-east-1' })).toBe('A|S|us-east-1')
    expect(store.options[1].children.some((o) => o.value === 15)).toBe(true)
  })

  it('keeps the error and retries on the next load', async () => {
    const f = fakeFetch(
      () => Promise.reject(new TypeError('Failed to fetch')),
      () => json({ success: false, message: 'boom' }, 500),
      () => json(envelope([])),
      () => json(envelope(TYPES)),
    )
    const store = useChannelTypes()
    await store.load()
    expect(store.error).toBe('Cannot reach the server. Check your connection and try again.')
    expect(store.loaded).toBe(false)
    expect(store.loading).toBe(false)
    expect(store.name(1)).toBe('Type 1')
    await store.load()
    expect(store.error).toBe('boom')
    await store.load()
    expect(store.error).toBe('The server listed no channel types')
    await store.load()
    expect(store.error).toBe('')
    expect(store.loaded).toBe(true)
    expect(store.name(1)).toBe('OpenAI')
    expect(f).toHaveBeenCalledTimes(4)
  })
})
