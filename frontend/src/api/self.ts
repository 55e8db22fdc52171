/**
 * The logged-in user's own account (handlers/api/user.py, handlers/api/auth.py):
 * profile and password changes, the management access token, the invite code,
 * account bindings and account deletion. `GET /api/user/self` is `getSelf` in session.ts.
 */
import { http } from './http'

export interface SelfUpdate {
  username?: string
  display_name?: string
  /** 8–20 characters; other sessions of the user are logged out, this browser stays in */
  password?: string
}

/** `PUT /api/user/self`: only the fields given are sent (empty strings are left out). */
export function updateSelf(fields: SelfUpdate): Promise<void> {
  const body: Record<string, string> = {}
  for (const k of ['username', 'display_name', 'password'] as const) {
    const v = fields[k]
    if (typeof v === 'string' && (k === 'display_name' ? true : v !== '')) body[k] = v
  }
  return http.put<void>('/api/user/self', body)
}

/** `DELETE /api/user/self`: soft-deletes the account (not allowed for root) and ends the session. */
export const deleteSelf = () => http.del<void>('/api/user/self')

/** `GET /api/user/token`: a new 32-hex access token; the old one stops working at once. */
export const generateAccessToken = () => http.get<string>('/api/user/token')

/** `GET /api/user/aff`: the invite code (created on first call). */
export const getAffCode = () => http.get<string>('/api/user/aff')

/** `${origin}/register?aff=<code>`: the link that credits the inviter. */
export function inviteLink(origin: string, code: string): string {
  return `${origin.replace(/\/+$/, '')}/register?aff=${encodeURIComponent(code)}`
}

/** `GET /api/oauth/email/bind?email=&code=`: binds the email with the code sent to it. */
export const bindEmail = (email: string, code: string) =>
  http.get<void>('/api/oauth/email/bind', { email: email.trim(), code: code.trim() })

/** `GET /api/oauth/wechat/bind?code=`: binds the WeChat account that got this code. */
export const bindWeChat = (code: string) => http.get<void>('/api/oauth/wechat/bind', { code: code.trim() })
