/** The token list mounted in zh-CN and in English: column titles, row texts and the search controls come from the messages. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { NMessageProvider } from 'naive-ui'
import { i18n, setLocale } from '@/i18n'

const push = vi.fn()
vi.mock('vue-router', () => ({
  useRoute: () => ({ params: {}, query: {} }),
  useRouter: () => ({ push }),
  // the page uses RouterLink in "custom" mode: render its slot with a navigate function
  RouterLink: defineComponent({
    props: { to: { type: [String, Object], required: true }, custom: Boolean },
    setup: (_props, { slots }) => () => slots.default?.({ navigate: () => undefined }),
  }),
}))

const { default: TokenList } = await import('@/pages/token/TokenList.vue')

const TOKENS = [
  { id: 1, name: 'ci', key: 'AbCdEfGhIjKlMnOp0123456789abcdef', status: 1, remain_quota: 500000, used_quota: 1000, unlimited_quota: false, created_time: 1700000000, expired_time: -1, models: '', subnet: '' },
  { id: 2, name: '', key: 'ZyXwVuTsRqPoNmLk9876543210fedcba', status: 2, remain_quota: 0, used_quota: 0, unlimited_quota: true, created_time: 1700000000, expired_time: 1700003600, models: '', subnet: '' },
]

function mountList() {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response(JSON.stringify({ success: true, message: '', data: TOKENS }), { status: 200 })),
  )
  const Host = defineComponent({ render: () => h(NMessageProvider, null, { default: () => h(TokenList) }) })
  return mount(Host, { attachTo: document.body, global: { plugins: [i18n] } })
}

beforeEach(() => setActivePinia(createPinia()))
afterEach(() => {
  setLocale('en', false)
  vi.unstubAllGlobals()
  document.body.innerHTML = ''
})

describe('TokenList in both languages', () => {
  it('shows Chinese labels in zh-CN', async () => {
    setLocale('zh-CN', false)
    const w = mountList()
    await flushPromises()
    const text = w.text()
    for (const label of ['令牌', '添加令牌', '名称', '状态', '已用额度', '剩余额度', '可用模型', '聊天', '过期时间', '操作', '复制密钥', '无限制', '永不过期', '（无名称）']) {
      expect(text).toContain(label)
    }
    expect(text).not.toContain('Add token')
    expect(text).not.toContain('Remaining')
    // status tags (shared StatusTag) and aria labels follow too
    expect(text).toContain('已启用')
    expect(w.find('input[aria-label="搜索令牌"]').exists()).toBe(true)
    expect(w.find('button[aria-label="显示密钥"]').exists()).toBe(true)
    expect(w.findAll('[data-testid="token-key"]')).toHaveLength(2)
    w.unmount()
  })

  it('switches to English without remounting', async () => {
    setLocale('zh-CN', false)
    const w = mountList()
    await flushPromises()
    expect(w.text()).toContain('剩余额度')
    setLocale('en', false)
    await flushPromises()
    const text = w.text()
    for (const label of ['Tokens', 'Add token', 'Remaining', 'Expires', 'Copy key', 'Unlimited', 'Never', '(no name)']) {
      expect(text).toContain(label)
    }
    expect(text).not.toContain('剩余额度')
    w.unmount()
  })
})
