/** Public status, login/logout and the current user: what the shell needs on every page. */
import { http } from './http'
import type { Status, User } from './types'

export const getStatus = () => http.get<Status>('/api/status')
export const login = (username: string, password: string) =>
  http.post<User>('/api/user/login', { username, password })
export const logout = () => http.get<void>('/api/user/logout')
export const getSelf = () => http.get<User>('/api/user/self')
