import { currentLocale, t } from '@/i18n'

/**
 * The one fetch wrapper of the console. Every `/api/*` call goes through `request`:
 * it sends JSON, unwraps One API's `{success, message, data}` envelope, and turns every
 * failure (network, HTTP status, `success:false`, a non-JSON body) into an `ApiError`
 * whose message can be shown to the user as is. A 401 also calls the unauthorized hook
 * (the user store logs out and the router goes to /login).
 */

export class ApiError extends Error {
  /** HTTP status, or 0 when the server could not be reached. */
  readonly status: number
  /** The server's whole `{success:false, ...}` reply when there was one (extra fields included). */
  readonly envelope?: Envelope

  constructor(message: string, status = 200, envelope?: Envelope) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.envelope = envelope
  }
}

export interface Envelope<T = unknown> {
  success: boolean
  message: string
  data?: T
  [extra: string]: unknown
}

export type QueryValue = string | number | boolean | null | undefined
export type Query = Record<string, QueryValue>

export interface RequestOptions {
  query?: Query
  body?: unknown
  signal?: AbortSignal
}

let onUnauthorized: (() => void) | null = null

/** Registers what happens when the server answers 401 (session gone). */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn
}

/** `path?query` with empty values (undefined, null, '') left out. */
export function buildUrl(path: string, query?: Query): string {
  if (!query) return path
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue
    params.append(k, String(v))
  }
  const qs = params.toString()
  if (!qs) return path
  return path + (path.includes('?') ? '&' : '?') + qs
}

/** The whole envelope, for the few endpoints with extra top-level fields (e.g. `balance`). */
export async function requestEnvelope<T = unknown>(
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<Envelope<T>> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Accept-Language': currentLocale() },
    signal: opts.signal,
  }
  if (opts.body !== undefined) {
    ;(init.headers as Record<string, string>)['Content-Type'] = 'application/json'
    init.body = JSON.stringify(opts.body)
  }
  let res: Response
  try {
    res = await fetch(buildUrl(path, opts.query), init)
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e
    throw new ApiError(t('common.errors.network'), 0)
  }
  let env: Envelope<T> | null = null
  const text = await res.text()
  try {
    const parsed: unknown = text ? JSON.parse(text) : null
    if (parsed && typeof parsed === 'object' && 'success' in parsed) env = parsed as Envelope<T>
  } catch {
    env = null
  }
  if (res.status === 401) {
    onUnauthorized?.()
    throw new ApiError(env?.message || t('common.errors.session'), 401)
  }
  if (!env) {
    throw new ApiError(t('common.errors.http', { status: res.status, statusText: res.statusText || '' }).trim(), res.status)
  }
  if (!env.success) {
    throw new ApiError(env.message || t('common.errors.failed', { status: res.status }), res.status, env as Envelope)
  }
  return env
}

/** Sends a request and returns the envelope's `data`. */
export async function request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const env = await requestEnvelope<T>(method, path, opts)
  return env.data as T
}

export const http = {
  get: <T = unknown>(path: string, query?: Query) => request<T>('GET', path, { query }),
  post: <T = unknown>(path: string, body?: unknown, query?: Query) => request<T>('POST', path, { body, query }),
  put: <T = unknown>(path: string, body?: unknown, query?: Query) => request<T>('PUT', path, { body, query }),
  del: <T = unknown>(path: string, query?: Query) => request<T>('DELETE', path, { query }),
}

/** A readable message for anything thrown (ApiError, Error, string). */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message || t('common.errors.generic')
  if (typeof e === 'string') return e
  return t('common.errors.generic')
}
