/**
 * The channel type table (REFERENCE.md §4, `adaptors/__init__.py` CHANNEL_TYPE_NAMES):
 * id, display name, default base URL, whether OneRelay routes it natively, whether the
 * server can query its balance (`relay/channel_test.py` BALANCE_SPECS), key format hints
 * and per-type notes and `config` fields for the channel form.
 */

export type ConfigKey =
  | 'region'
  | 'ak'
  | 'sk'
  | 'user_id'
  | 'api_version'
  | 'library_id'
  | 'plugin'
  | 'vertex_ai_project_id'
  | 'vertex_ai_adc'

export interface ConfigField {
  key: ConfigKey
  label: string
  placeholder?: string
  /** a multi-line input (JSON credentials) */
  textarea?: boolean
  /** a secret: rendered as a password input */
  secret?: boolean
  required?: boolean
  help?: string
}

export interface ChannelTypeInfo {
  /** the type id stored in `channel.type` */
  value: number
  name: string
  /** default upstream base URL; '' when the type has none (the user must give one) */
  baseUrl: string
  /** OneRelay has an adaptor: channels of this type are routed and can be tested */
  supported: boolean
  /** the server can query the provider's balance (`/api/channel/update_balance/:id`) */
  balance?: 'USD' | 'CNY'
  /** the form requires a base URL */
  baseUrlRequired?: boolean
  /** tag colour */
  color: string
  /** how the key field is written, when it is not a plain API key */
  keyFormat?: string
  /** a note shown under the type select */
  note?: string
  /** a note shown under the base URL */
  baseUrlNote?: string
  /** extra `config` JSON fields */
  config?: ConfigField[]
  /** the key is built from the config fields when left empty */
  keyFromConfig?: (config: Record<string, string>) => string
  /** deprecated in One API */
  deprecated?: boolean
}

export const AZURE_DEFAULT_API_VERSION = '2024-10-21'

const OPENAI_NOTE = 'OpenAI-compatible API: requests are forwarded as they are.'

/** All channel types the server accepts, by id. */
export const CHANNEL_TYPES: ChannelTypeInfo[] = [
  {
    value: 1,
    name: 'OpenAI',
    baseUrl: 'https://api.openai.com',
    supported: true,
    balance: 'USD',
    color: '#10a37f',
    note: 'OpenAI or any OpenAI-compatible mirror.',
    baseUrlNote: 'Leave empty for api.openai.com. For a mirror, give its address without /v1.',
  },
  { value: 2, name: 'API2D', baseUrl: 'https://oa.api2d.net', supported: true, color: '#6366f1', note: OPENAI_NOTE },
  {
    value: 3,
    name: 'Azure OpenAI',
    baseUrl: '',
    supported: true,
    baseUrlRequired: true,
    color: '#0078d4',
    note: 'Model names are used as deployment names; use Model mapping to send a model to a differently named deployment.',
    baseUrlNote: 'The resource endpoint, e.g. https://my-resource.openai.azure.com (no path).',
    config: [
      {
        key: 'api_version',
        label: 'API version',
        placeholder: AZURE_DEFAULT_API_VERSION,
        help: `The api-version query parameter; empty = ${AZURE_DEFAULT_API_VERSION}.`,
      },
    ],
  },
  { value: 4, name: 'CloseAI', baseUrl: 'https://api.closeai-proxy.xyz', supported: true, balance: 'USD', color: '#0ea5e9', note: OPENAI_NOTE },
  { value: 5, name: 'OpenAI-SB', baseUrl: 'https://api.openai-sb.com', supported: true, balance: 'USD', color: '#8b5cf6', note: OPENAI_NOTE },
  { value: 6, name: 'OpenAIMax', baseUrl: 'https://api.openaimax.com', supported: true, color: '#14b8a6', note: OPENAI_NOTE },
  { value: 7, name: 'OhMyGPT', baseUrl: 'https://api.ohmygpt.com', supported: true, color: '#f97316', note: OPENAI_NOTE },
  {
    value: 8,
    name: 'Custom',
    baseUrl: '',
    supported: true,
    balance: 'USD',
    baseUrlRequired: true,
    deprecated: true,
    color: '#64748b',
    note: 'Deprecated: only replaces the host of OpenAI requests. Prefer "OpenAI-compatible".',
    baseUrlNote: 'The host that replaces api.openai.com, e.g. https://my-gateway.example.com.',
  },
  { value: 9, name: 'AI.LS', baseUrl: 'https://api.caipacity.com', supported: true, color: '#84cc16', note: OPENAI_NOTE },
  { value: 10, name: 'AIProxy', baseUrl: 'https://api.aiproxy.io', supported: true, balance: 'USD', color: '#06b6d4', note: OPENAI_NOTE },
  { value: 11, name: 'Google PaLM', baseUrl: 'https://generativelanguage.googleapis.com', supported: false, color: '#4285f4' },
  { value: 12, name: 'API2GPT', baseUrl: 'https://api.api2gpt.com', supported: true, balance: 'USD', color: '#a855f7', note: OPENAI_NOTE },
  { value: 13, name: 'AIGC2D', baseUrl: 'https://api.aigc2d.com', supported: true, balance: 'USD', color: '#ec4899', note: OPENAI_NOTE },
  {
    value: 14,
    name: 'Anthropic',
    baseUrl: 'https://api.anthropic.com',
    supported: true,
    color: '#d97706',
    note: 'Claude via the native Messages API: OpenAI-format requests are converted both ways. The key is an Anthropic API key (sk-ant-…).',
    baseUrlNote: 'Leave empty for api.anthropic.com.',
  },
  {
    value: 15,
    name: 'Baidu ERNIE',
    baseUrl: 'https://aip.baidubce.com',
    supported: false,
    color: '#2932e1',
    keyFormat: 'AK|SK',
  },
  { value: 16, name: 'Zhipu ChatGLM', baseUrl: 'https://open.bigmodel.cn', supported: false, color: '#3b82f6' },
  {
    value: 17,
    name: 'Alibaba Qwen',
    baseUrl: 'https://dashscope.aliyuncs.com',
    supported: false,
    color: '#ff6a00',
    config: [{ key: 'plugin', label: 'Plugin', placeholder: 'e.g. {"pdf_extracter":{}}', help: 'DashScope plugin header (optional).' }],
  },
  {
    value: 18,
    name: 'Xunfei Spark',
    baseUrl: '',
    supported: false,
    color: '#1d4ed8',
    keyFormat: 'APPID|APISecret|APIKey',
    config: [{ key: 'api_version', label: 'API version', placeholder: 'e.g. v3.5', help: 'The Spark model version.' }],
  },
  { value: 19, name: '360 Zhinao', baseUrl: 'https://ai.360.cn', supported: true, color: '#22c55e', note: OPENAI_NOTE },
  { value: 20, name: 'OpenRouter', baseUrl: 'https://openrouter.ai/api', supported: true, balance: 'USD', color: '#6467f2', note: OPENAI_NOTE },
  {
    value: 21,
    name: 'AIProxy Library',
    baseUrl: 'https://api.aiproxy.io',
    supported: false,
    color: '#0891b2',
    config: [{ key: 'library_id', label: 'Library ID', placeholder: 'The knowledge library ID', required: true }],
  },
  { value: 22, name: 'FastGPT', baseUrl: 'https://fastgpt.run/api/openapi', supported: true, color: '#2563eb', note: OPENAI_NOTE },
  {
    value: 23,
    name: 'Tencent Hunyuan',
    baseUrl: 'https://hunyuan.tencentcloudapi.com',
    supported: false,
    color: '#0052d9',
    keyFormat: 'AppId|SecretId|SecretKey',
  },
  {
    value: 24,
    name: 'Google Gemini',
    baseUrl: 'https://generativelanguage.googleapis.com',
    supported: false,
    color: '#4285f4',
    note: 'Native Gemini API. For Gemini through its OpenAI-compatible endpoint, choose "Gemini (OpenAI)".',
    config: [{ key: 'api_version', label: 'API version', placeholder: 'v1beta' }],
  },
  { value: 25, name: 'Moonshot', baseUrl: 'https://api.moonshot.cn', supported: true, balance: 'CNY', color: '#111827', note: OPENAI_NOTE },
  { value: 26, name: 'Baichuan', baseUrl: 'https://api.baichuan-ai.com', supported: true, color: '#f59e0b', note: OPENAI_NOTE },
  { value: 27, name: 'MiniMax', baseUrl: 'https://api.minimax.chat', supported: true, color: '#e11d48', note: OPENAI_NOTE },
  { value: 28, name: 'Mistral', baseUrl: 'https://api.mistral.ai', supported: true, color: '#fa520f', note: OPENAI_NOTE },
  { value: 29, name: 'Groq', baseUrl: 'https://api.groq.com/openai', supported: true, color: '#f55036', note: OPENAI_NOTE },
  {
    value: 30,
    name: 'Ollama',
    baseUrl: 'http://localhost:11434',
    supported: false,
    color: '#334155',
    baseUrlNote: 'The Ollama server, e.g. http://localhost:11434.',
  },
  { value: 31, name: '01.AI (LingYiWanWu)', baseUrl: 'https://api.lingyiwanwu.com', supported: true, color: '#16a34a', note: OPENAI_NOTE },
  { value: 32, name: 'StepFun', baseUrl: 'https://api.stepfun.com', supported: true, color: '#0d9488', note: OPENAI_NOTE },
  {
    value: 33,
    name: 'AWS Bedrock',
    baseUrl: '',
    supported: false,
    color: '#ff9900',
    note: 'Uses the AWS SDK with an access key pair. The channel key is built as AK|SK|Region when left empty.',
    config: [
      { key: 'region', label: 'Region', placeholder: 'us-east-1', required: true },
      { key: 'ak', label: 'Access key ID', placeholder: 'AKIA…', required: true },
      { key: 'sk', label: 'Secret access key', placeholder: 'Secret access key', secret: true, required: true },
    ],
    keyFromConfig: (c) => (c.ak && c.sk && c.region ? `${c.ak}|${c.sk}|${c.region}` : ''),
  },
  {
    value: 34,
    name: 'Coze',
    baseUrl: 'https://api.coze.com',
    supported: false,
    color: '#4d53e8',
    config: [{ key: 'user_id', label: 'User ID', placeholder: 'The Coze user ID' }],
  },
  { value: 35, name: 'Cohere', baseUrl: 'https://api.cohere.ai', supported: false, color: '#39594d' },
  { value: 36, name: 'DeepSeek', baseUrl: 'https://api.deepseek.com', supported: true, balance: 'CNY', color: '#4d6bfe', note: OPENAI_NOTE },
  {
    value: 37,
    name: 'Cloudflare',
    baseUrl: 'https://api.cloudflare.com',
    supported: false,
    color: '#f38020',
    config: [{ key: 'user_id', label: 'Account ID', placeholder: 'The Cloudflare account ID', required: true }],
  },
  { value: 38, name: 'DeepL', baseUrl: 'https://api-free.deepl.com', supported: false, color: '#0f2b46' },
  { value: 39, name: 'together.ai', baseUrl: 'https://api.together.xyz', supported: true, color: '#0f6fff', note: OPENAI_NOTE },
  {
    value: 40,
    name: 'Doubao (Volcengine)',
    baseUrl: 'https://ark.cn-beijing.volces.com',
    supported: true,
    color: '#3370ff',
    note: 'Volcengine Ark: use your endpoint IDs (ep-…) as model names, or map model names to them with Model mapping.',
  },
  { value: 41, name: 'Novita', baseUrl: 'https://api.novita.ai/v3/openai', supported: true, color: '#7c3aed', note: OPENAI_NOTE },
  {
    value: 42,
    name: 'Vertex AI',
    baseUrl: '',
    supported: false,
    color: '#34a853',
    note: 'Google Cloud Vertex AI with a service account (Application Default Credentials). The channel key defaults to the project ID when left empty.',
    config: [
      { key: 'region', label: 'Region', placeholder: 'us-central1', required: true },
      { key: 'vertex_ai_project_id', label: 'Project ID', placeholder: 'my-gcp-project', required: true },
      {
        key: 'vertex_ai_adc',
        label: 'Service account JSON',
        placeholder: '{"type": "service_account", …}',
        textarea: true,
        help: 'The Application Default Credentials JSON of a service account.',
      },
    ],
    keyFromConfig: (c) => c.vertex_ai_project_id || '',
  },
  {
    value: 43,
    name: 'Proxy',
    baseUrl: '',
    supported: false,
    baseUrlRequired: true,
    color: '#475569',
    note: 'Raw pass-through to another gateway.',
  },
  { value: 44, name: 'SiliconFlow', baseUrl: 'https://api.siliconflow.cn', supported: true, balance: 'CNY', color: '#7c3aed', note: OPENAI_NOTE },
  { value: 45, name: 'xAI', baseUrl: 'https://api.x.ai', supported: true, color: '#18181b', note: OPENAI_NOTE },
  { value: 46, name: 'Replicate', baseUrl: 'https://api.replicate.com/v1/models/', supported: false, color: '#3f3f46' },
  { value: 47, name: 'Baidu Qianfan V2', baseUrl: 'https://qianfan.baidubce.com', supported: true, color: '#2932e1', note: OPENAI_NOTE },
  { value: 48, name: 'Xunfei Spark V2', baseUrl: 'https://spark-api-open.xf-yun.com', supported: true, color: '#1d4ed8', note: OPENAI_NOTE },
  { value: 49, name: 'Alibaba Bailian', baseUrl: 'https://dashscope.aliyuncs.com', supported: true, color: '#ff6a00', note: OPENAI_NOTE },
  {
    value: 50,
    name: 'OpenAI-compatible',
    baseUrl: '',
    supported: true,
    balance: 'USD',
    baseUrlRequired: true,
    color: '#0f766e',
    note: 'Any server that speaks the OpenAI API (vLLM, LiteLLM, LM Studio, another gateway…).',
    baseUrlNote: 'The server address; a trailing /v1 is removed, e.g. http://10.0.0.5:8000/v1 → http://10.0.0.5:8000.',
  },
  {
    value: 51,
    name: 'Gemini (OpenAI)',
    baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai',
    supported: true,
    color: '#4285f4',
    note: "Gemini through Google's OpenAI-compatible endpoint.",
  },
]

const BY_ID = new Map(CHANNEL_TYPES.map((t) => [t.value, t]))

/** The type's entry; an unknown id gets a neutral placeholder entry. */
export function channelType(type: number): ChannelTypeInfo {
  return BY_ID.get(Number(type)) ?? { value: Number(type), name: `Type ${type}`, baseUrl: '', supported: false, color: '#64748b' }
}

export function isKnownChannelType(type: number): boolean {
  return BY_ID.has(Number(type))
}

export function channelTypeName(type: number): string {
  return channelType(type).name
}

/** The upstream address used when the channel's base URL is empty ('' = none). */
export function defaultBaseUrl(type: number): string {
  return channelType(type).baseUrl
}

export function baseUrlRequired(type: number): boolean {
  return Boolean(channelType(type).baseUrlRequired)
}

/** The currency of the balance the server can query for this type, or null. */
export function balanceCurrency(type: number): 'USD' | 'CNY' | null {
  return channelType(type).balance ?? null
}

/** Searchable select options: natively routed types first, then the rest. */
export function channelTypeOptions(): { type: 'group'; label: string; key: string; children: { label: string; value: number }[] }[] {
  const opt = (t: ChannelTypeInfo) => ({ label: t.name, value: t.value })
  return [
    { type: 'group', label: 'Routed by OneRelay', key: 'supported', children: CHANNEL_TYPES.filter((t) => t.supported).map(opt) },
    { type: 'group', label: 'Not routed yet (stored only)', key: 'unsupported', children: CHANNEL_TYPES.filter((t) => !t.supported).map(opt) },
  ]
}
