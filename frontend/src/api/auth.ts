/**
 * Accounts from the outside (handlers/api/auth.py) and the public content options
 * (handlers/api/misc.py): registration, password reset, OAuth logins, and the Notice,
 * About and HomePageContent strings shown to visitors.
 *
 * Login, logout, `/api/verification` and `/api/oauth/state` live in `session.ts`.
 */
import { http, requestEnvelope } from './http'
import type { User } from './types'

// -- registration --------------------------------------------------------------------------

export interface RegisterForm {
  username: string
  password: string
  display_name?: string
  /** required (with `verification_code`) when EmailVerificationEnabled */
  email?: string
  verification_code?: string
  /** the inviter's code (`?aff=` of an invite link) */
  aff_code?: string
}

/**
 * `POST /api/user/register[?turnstile=]`: the Turnstile token travels in the query, as
 * the server's `check_turnstile` reads it there. Empty optional fields are left out.
 */
export function register(form: RegisterForm, turnstile?: string): Promise<void> {
  const body: Record<string, string> = { username: form.username, password: form.password }
  for (const k of ['display_name', 'email', 'verification_code', 'aff_code'] as const) {
    const v = form[k]?.trim()
    if (v) body[k] = v
  }
  return http.post<void>('/api/user/register', body, { turnstile })
}

// -- invite code (One API keeps it in localStorage under `aff`) ---------------------------

const AFF_KEY = 'aff'

/** Remembers `?aff=` from an invite link so it survives a detour (e.g. to /login and back). */
export function rememberAffCode(fromQuery: unknown): string {
  const code = typeof fromQuery === 'string' ? fromQuery.trim().slice(0, 32) : ''
  try {
    if (code) localStorage.setItem(AFF_KEY, code)
    return code || localStorage.getItem(AFF_KEY) || ''
  } catch {
    return code
  }
}

/** Forgets the invite code once an account was created with it. */
export function forgetAffCode(): void {
  try {
    localStorage.removeItem(AFF_KEY)
  } catch {
    /* ignore */
  }
}

// -- password reset ------------------------------------------------------------------------

/** `GET /api/reset_password?email=`: mails a reset link `{ServerAddress}/user/reset?email=&token=`. */
export const sendResetEmail = (email: string, turnstile?: string) =>
  http.get<void>('/api/reset_password', { email, turnstile })

/** `POST /api/user/reset {email, token}` → the new 12-character password. */
export const confirmReset = (email: string, token: string) =>
  http.post<string>('/api/user/reset', { email, token })

// -- OAuth ---------------------------------------------------------------------------------

export type OAuthProvider = 'github' | 'lark' | 'oidc'

export interface OAuthResult {
  /** true when a logged-in user bound the account (server message "bind") */
  bound: boolean
  /** the logged-in user, when this was a login */
  user: User | null
}

/** `GET /api/oauth/<provider>?code=&state=`: a login, or a bind when a session exists. */
export async function oauthLogin(provider: OAuthProvider, code: string, state: string): Promise<OAuthResult> {
  const env = await requestEnvelope<User>('GET', `/api/oauth/${provider}`, { query: { code, state } })
  if (env.message === 'bind') return { bound: true, user: null }
  return { bound: false, user: (env.data as User) ?? null }
}

/** `GET /api/oauth/wechat?code=`: login with the code the WeChat official account replied. */
export const wechatLogin = (code: string) => http.get<User>('/api/oauth/wechat', { code })

function withQuery(base: string, params: Record<string, string>): string {
  const qs = new URLSearchParams(params).toString()
  return base + (base.includes('?') ? '&' : '?') + qs
}

/** Where the provider sends the browser back: `{ServerAddress}/oauth/<provider>` (else this origin). */
export function oauthRedirectUri(serverAddress: string | undefined, provider: OAuthProvider, origin: string): string {
  const base = (serverAddress || '').trim().replace(/\/+$/, '') || origin.replace(/\/+$/, '')
  return `${base}/oauth/${provider}`
}

export function githubAuthorizeUrl(clientId: string, state: string): string {
  return withQuery('https://github.com/login/oauth/authorize', { client_id: clientId, state, scope: 'user:email' })
}

/**
 * Feishu/Lark authorization page. The server exchanges the code at
 * `/open-apis/authen/v2/oauth/token` with `redirect_uri={ServerAddress}/oauth/lark`,
 * which pairs with the `authen/v1/authorize` page.
 */
export function larkAuthorizeUrl(clientId: string, redirectUri: string, state: string): string {
  return withQuery('https://accounts.feishu.cn/open-apis/authen/v1/authorize', {
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    state,
  })
}

export function oidcAuthorizeUrl(endpoint: string, clientId: string, redirectUri: string, state: string): string {
  return withQuery(endpoint.trim(), {
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid profile email',
    state,
  })
}

/** The authorization endpoint from an OIDC discovery document (when only OidcWellKnown is set). */
export async function discoverOidcAuthorization(wellKnown: string): Promise<string> {
  let doc: unknown
  try {
    const res = await fetch(wellKnown, { headers: { Accept: 'application/json' } })
    doc = await res.json()
  } catch {
    throw new Error('The OIDC discovery document could not be read; ask the administrator to set the authorization endpoint')
  }
  const ep = (doc as { authorization_endpoint?: unknown })?.authorization_endpoint
  if (typeof ep !== 'string' || !ep) throw new Error('The OIDC discovery document has no authorization endpoint')
  return ep
}

// -- public content options ----------------------------------------------------------------

/** `GET /api/notice`: the Notice option (Markdown), '' when unset. */
export const getNotice = async () => (await http.get<string>('/api/notice')) || ''
/** `GET /api/about`: the About option (Markdown, or a URL shown in an iframe). */
export const getAbout = async () => (await http.get<string>('/api/about')) || ''
/** `GET /api/home_page_content`: HomePageContent (Markdown, or a URL shown in an iframe). */
export const getHomePageContent = async () => (await http.get<string>('/api/home_page_content')) || ''
