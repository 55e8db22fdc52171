import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { NMessageProvider } from 'naive-ui'
import { i18n } from '@/i18n'
import { envelope, TYPES } from './channelTypesFixture'

const route = { params: {} as Record<string, string> }
const push = vi.fn()
vi.mock('vue-router', () => ({ useRoute: () => route, useRouter: () => ({ push }) }))

const { default: ChannelEdit } = await import('@/pages/channel/ChannelEdit.vue')

/** fetch by path: `/api/channel/types` gets `types()`, the other calls what `others` says. */
function fakeApi(types: () => Response, others: Record<string, unknown> = {}) {
  const f = vi.fn(async (url: string) => {
    const path = url.split('?')[0]
    if (path === '/api/channel/types') return types()
    const data = path in others ? others[path] : []
    return new Response(JSON.stringify(envelope(data)), { status: 200 })
  })
  vi.stubGlobal('fetch', f)
  return f
}

function mountPage() {
  const Host = defineComponent({ render: () => h(NMessageProvider, null, { default: () => h(ChannelEdit) }) })
  return mount(Host, { attachTo: document.body, global: { plugins: [i18n] } })
}

beforeEach(() => {
  setActivePinia(createPinia())
  route.params = {}
})
afterEach(() => {
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('ChannelEdit and the provider registry', () => {
  it('shows a clear error (and retries) when the types cannot be loaded', async () => {
    let fail = true
    const f = fakeApi(() =>
      fail
        ? new Response(JSON.stringify({ success: false, message: 'The registry is unavailable' }), { status: 500 })
        : new Response(JSON.stringify(envelope(TYPES)), { status: 200 }),
    )
    const w = mountPage()
    await flushPromises()
    const alert = w.find('[data-testid="channel-types-error"]')
    expect(alert.exists()).toBe(true)
    expect(alert.text()).toContain('Could not load the channel types')
    expect(alert.text()).toContain('The registry is unavailable')
    expect(w.find('[data-testid="channel-type"]').exists()).toBe(false)

    fail = false
    const retry = alert.findAll('button').find((b) => b.text() === 'Retry')!
    await retry.trigger('click')
    await flushPromises()
    await nextTick()
    expect(w.find('[data-testid="channel-types-error"]').exists()).toBe(false)
    expect(w.find('[data-testid="channel-type"]').exists()).toBe(true)
    expect(f.mock.calls.filter(([u]) => u === '/api/channel/types')).toHaveLength(2)
    w.unmount()
  })

  it('fills the form from the registry: notes, base URL, model suggestions', async () => {
    fakeApi(() => new Response(JSON.stringify(envelope(TYPES)), { status: 200 }))
    const w = mountPage()
    await flushPromises()
    // type 1 (the default): its note, default base URL and model list
    expect(w.text()).toContain('OpenAI or any OpenAI-compatible mirror.')
    const base = w.find('input[aria-label="Base URL"]')
    expect(base.attributes('placeholder')).toBe('https://api.openai.com')
    expect(w.text()).toContain('Fill OpenAI models')
    w.unmount()
  })

  it('edits an Azure channel: its config field and the base URL example', async () => {
    route.params = { id: '5' }
    fakeApi(() => new Response(JSON.stringify(envelope(TYPES)), { status: 200 }), {
      '/api/channel/5': {
        id: 5, type: 3, name: 'Azure', key: '', base_url: 'https://r.openai.azure.com', models: 'gpt-4o', group: 'default',
        model_mapping: '', config: '{"api_version":"2024-02-01"}', system_prompt: '', priority: 0, weight: 0, other: '', status: 1,
      },
    })
    const w = mountPage()
    await flushPromises()
    const version = w.find('input[aria-label="API version"]')
    expect(version.exists()).toBe(true)
    expect((version.element as HTMLInputElement).value).toBe('2024-02-01')
    expect(version.attributes('placeholder')).toBe('2024-10-21')
    expect(w.find('input[aria-label="Base URL"]').attributes('placeholder')).toBe('https://my-resource.openai.azure.com')
    w.unmount()
  })

  it('shows an unknown stored type as "Type N" and a not-routed warning', async () => {
    route.params = { id: '6' }
    fakeApi(() => new Response(JSON.stringify(envelope(TYPES)), { status: 200 }), {
      '/api/channel/6': {
        id: 6, type: 77, name: '', key: '', base_url: '', models: 'm', group: 'default',
        model_mapping: '', config: '', system_prompt: '', priority: 0, weight: 0, other: '', status: 1,
      },
    })
    const w = mountPage()
    await flushPromises()
    expect(w.text()).toContain('#6 · Type 77')
    expect(w.text()).toContain('OneRelay has no adaptor for Type 77 yet')
    w.unmount()
  })

  it('builds the Bedrock key from the config fields', async () => {
    route.params = { id: '7' }
    fakeApi(() => new Response(JSON.stringify(envelope(TYPES)), { status: 200 }), {
      '/api/channel/7': {
        id: 7, type: 33, name: 'Bedrock', key: '', base_url: '', models: 'm', group: 'default',
        model_mapping: '', config: '{"region":"us-east-1","ak":"AKIA1"}', system_prompt: '', priority: 0, weight: 0, other: '', status: 1,
      },
    })
    const w = mountPage()
    await flushPromises()
    expect(w.find('input[aria-label="Region"]').exists()).toBe(true)
    expect(w.find('input[aria-label="Secret access key"]').attributes('type')).toBe('password')
    expect(w.text()).not.toContain('Empty: built from the fields above.')
    await w.find('input[aria-label="Secret access key"]').setValue('SECRET')
    await nextTick()
    expect(w.text()).toContain('Empty: built from the fields above.')
    w.unmount()
  })
})
