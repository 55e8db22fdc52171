/** Public status, login/logout and the current user: what the shell needs on every page. */
import { http } from './http'
import type { Status, User } from './types'

export const getStatus = () => http.get<Status>('/api/status')
export const login = (username: string, password: string) =>
  http.post<User>('/api/user/login', { username, password })
export const logout = () => http.get<void>('/api/user/logout')
export const getSelf = () => http.get<User>('/api/user/self')

/** Emails a 6-character verification code (registration, email binding). */
export const sendVerificationCode = (email: string, turnstile?: string) =>
  http.get<void>('/api/verification', { email, turnstile })
/** A fresh OAuth `state` (also kept in a signed cookie by the server). */
export const getOAuthState = () => http.get<string>('/api/oauth/state')
