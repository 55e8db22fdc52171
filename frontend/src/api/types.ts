/** Shapes of the management API (REFERENCE.md §3), as the server sends them. */

export const ROLE_GUEST = 0
export const ROLE_COMMON = 1
export const ROLE_ADMIN = 10
export const ROLE_ROOT = 100

export interface Status {
  /** The server's default language (option Language): `zh-CN` or `en`. */
  language?: string
  version: string
  start_time: number
  system_name: string
  logo: string
  footer_html: string
  server_address: string
  top_up_link: string
  chat_link: string
  quota_per_unit: number
  display_in_currency: boolean
  email_verification: boolean
  /** RegisterEnabled: new accounts at all (password or OAuth) */
  register_enabled?: boolean
  /** RegisterEnabled && PasswordRegisterEnabled */
  password_register?: boolean
  /** PasswordLoginEnabled */
  password_login?: boolean
  github_oauth: boolean
  github_client_id: string
  lark_client_id: string
  oidc: boolean
  oidc_client_id: string
  oidc_well_known: string
  oidc_authorization_endpoint: string
  wechat_login: boolean
  wechat_qrcode: string
  turnstile_check: boolean
  turnstile_site_key: string
}

export interface User {
  id: number
  username: string
  display_name: string
  role: number
  /** 1 enabled, 2 disabled, 3 deleted */
  status: number
  email: string
  github_id: string
  wechat_id: string
  lark_id: string
  oidc_id: string
  quota: number
  used_quota: number
  request_count: number
  group: string
  aff_code: string
  inviter_id: number
  access_token?: string
  /** registration time, unix seconds (0 = unknown: users from before it was recorded) */
  created_time?: number
  /** login and `/api/user/self` only: true while the password is still the default 123456 */
  default_password?: boolean
  /** RPM/TPM and periodic quotas of the user (admin `GET /api/user/:id`; absent or {} = none) */
  limits?: Limits
}

/**
 * Usage limits of a token, a user or a group (README "Limits"): 0 or absent = no limit.
 * `daily`/`weekly`/`monthly`/`5h` are quota points (tokens and users only).
 */
export interface Limits {
  rpm?: number
  tpm?: number
  daily?: number
  weekly?: number
  monthly?: number
  '5h'?: number
  models?: Record<string, { rpm?: number; tpm?: number }>
}

/** `GET /api/user/groups`: the groups one may pick for a token, with their ratio. */
export type UsableGroups = Record<string, { desc: string; ratio: number }>

export interface Token {
  id: number
  user_id: number
  /** stored without the `sk-` prefix */
  key: string
  /** 1 enabled, 2 disabled, 3 expired, 4 exhausted */
  status: number
  name: string
  created_time: number
  accessed_time: number
  /** unix seconds, -1 = never */
  expired_time: number
  remain_quota: number
  unlimited_quota: boolean
  used_quota: number
  models: string
  subnet: string
  /** RPM/TPM and periodic quotas ({} or absent = none) */
  limits?: Limits
  /** ratio (tokens × ratios, the default) or per_call (ModelPrice per request) */
  billing_mode?: 'ratio' | 'per_call' | ''
  /** the group its requests use ('' = the owner's) */
  group?: string
}

export interface Channel {
  id: number
  type: number
  /** 0 unknown, 1 enabled, 2 manually disabled, 3 auto-disabled */
  status: number
  name: string
  key: string
  weight: number
  created_time: number
  test_time: number
  response_time: number
  base_url: string
  other: string
  balance: number
  balance_updated_time: number
  models: string
  group: string
  used_quota: number
  model_mapping: string
  priority: number
  config: string
  system_prompt: string
  /** the last test passed (or none ran); else `test_error` says why not */
  test_ok?: boolean
  test_error?: string
  /** a label to filter, enable, disable and edit channels together ('' = none) */
  tag?: string
  /** unix seconds a disabled channel is enabled again (0 = never) */
  auto_enable_at?: number
  /** a regular expression the reply of a channel test must match ('' = any reply) */
  test_expect?: string
  /** requests per minute over every node (0 = no limit) */
  rpm_limit?: number
  /** http(s)/socks5(h) proxy for its upstream calls; a password comes back as ******** */
  proxy?: string
  /** a JSON object string of extra upstream request headers ('' = none) */
  headers?: string
}

export interface Redemption {
  id: number
  user_id: number
  key: string
  /** 1 enabled, 2 disabled, 3 used */
  status: number
  name: string
  quota: number
  created_time: number
  redeemed_time: number
  used_user_id: number
  /** who redeemed it ('' when unused, or the user is gone) */
  used_username?: string
}

export interface Log {
  id: number
  user_id: number
  created_at: number
  /** 1 topup, 2 consume, 3 manage, 4 system, 5 test, 6 error */
  type: number
  content: string
  username: string
  token_name: string
  model_name: string
  quota: number
  prompt_tokens: number
  completion_tokens: number
  channel: number
  request_id: string
  elapsed_time: number
  is_stream: boolean
  system_prompt_reset: boolean
  /** error logs (type 6): the HTTP status answered, the error code and type */
  status?: number
  error_code?: string
  error_type?: string
  /** error logs: each failed attempt, in order (channel 0 = none chosen) */
  retries?: LogRetry[]
}

export interface LogRetry {
  channel: number
  status: number
  code: string
  message: string
}

export interface DashboardRow {
  Day: string
  ModelName: string
  RequestCount: number
  Quota: number
  PromptTokens: number
  CompletionTokens: number
}

export interface OptionItem {
  key: string
  value: string
}

/** One API's fixed page size (`ItemsPerPage`); `p` is 0-based and lists carry no total. */
export const PAGE_SIZE = 10
