/**
 * A few entries of `GET /api/channel/types` exactly as the server sends them
 * (`ProviderSpec.to_api()` in `adaptors/registry.py`: snake_case, every field present).
 */
import type { ChannelTypeSpec } from '@/api/channel'

function spec(id: number, name: string, over: Partial<ChannelTypeSpec> = {}): ChannelTypeSpec {
  const supported = over.supported ?? over.adaptor !== null
  return {
    id,
    name,
    base_url: '',
    adaptor: 'openai',
    modes: supported ? ['chat', 'completions', 'embeddings'] : [],
    path_prefix: '/v1',
    strip_v1: false,
    auth: 'bearer',
    models: [],
    test_model: '',
    balance: null,
    balance_url: '',
    quirks: [],
    color: '#64748b',
    note: '',
    base_url_note: '',
    base_url_required: false,
    key_format: '',
    key_from_config: '',
    config: [],
    deprecated: false,
    supported,
    ...over,
  }
}

const field = (key: string, label: string, over: Record<string, unknown> = {}) => ({
  key,
  label,
  placeholder: '',
  help: '',
  textarea: false,
  secret: false,
  required: false,
  ...over,
})

/** Out of id order on purpose: the console sorts. */
export const TYPES: ChannelTypeSpec[] = [
  spec(36, 'DeepSeek', { base_url: 'https://api.deepseek.com', color: '#4d6bfe', balance: 'CNY', models: ['deepseek-chat', 'deepseek-reasoner'] }),
  spec(1, 'OpenAI', {
    base_url: 'https://api.openai.com',
    color: '#10a37f',
    balance: 'USD',
    models: ['gpt-3.5-turbo', 'gpt-4o'],
    test_model: 'gpt-3.5-turbo',
    note: 'OpenAI or any OpenAI-compatible mirror.',
    base_url_note: 'Leave empty for api.openai.com. For a mirror, give its address without /v1.',
  }),
  spec(3, 'Azure OpenAI', {
    adaptor: 'azure',
    auth: 'api-key',
    base_url_required: true,
    color: '#0078d4',
    models: ['gpt-35-turbo', 'gpt-4o'],
    base_url_note: 'The resource endpoint, e.g. https://my-resource.openai.azure.com (no path).',
    config: [field('api_version', 'API version', { placeholder: '2024-10-21', help: 'The api-version query parameter; empty = 2024-10-21.' })],
  }),
  spec(14, 'Anthropic', { adaptor: 'anthropic', modes: ['chat'], base_url: 'https://api.anthropic.com', color: '#d97706' }),
  spec(15, 'Baidu ERNIE', { adaptor: null, base_url: 'https://aip.baidubce.com', color: '#2932e1', auth: 'signed', key_format: 'AK|SK' }),
  spec(33, 'AWS Bedrock', {
    adaptor: null,
    color: '#ff9900',
    auth: 'signed',
    key_from_config: '{ak}|{sk}|{region}',
    config: [
      field('region', 'Region', { placeholder: 'us-east-1', required: true }),
      field('ak', 'Access key ID', { placeholder: 'AKIA…', required: true }),
      field('sk', 'Secret access key', { placeholder: 'Secret access key', secret: true, required: true }),
    ],
  }),
  spec(42, 'Vertex AI', {
    adaptor: null,
    color: '#34a853',
    key_from_config: '{vertex_ai_project_id}',
    config: [
      field('region', 'Region', { placeholder: 'us-central1', required: true }),
      field('vertex_ai_project_id', 'Project ID', { placeholder: 'my-gcp-project', required: true }),
      field('vertex_ai_adc', 'Service account JSON', { textarea: true, secret: true }),
    ],
  }),
  spec(50, 'OpenAI-compatible', {
    base_url_required: true,
    strip_v1: true,
    balance: 'USD',
    color: '#0f766e',
    base_url_note: 'The server address; a trailing /v1 is removed, e.g. http://10.0.0.5:8000/v1 → http://10.0.0.5:8000.',
  }),
]

export const envelope = (data: unknown) => ({ success: true, message: '', data })
