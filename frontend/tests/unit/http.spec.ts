import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, buildUrl, errorMessage, http, requestEnvelope, setUnauthorizedHandler } from '@/api/http'
import { setLocale } from '@/i18n'

function reply(body: unknown, status = 200, statusText = 'OK') {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return vi.fn().mockResolvedValue(new Response(text, { status, statusText }))
}

afterEach(() => {
  vi.unstubAllGlobals()
  setUnauthorizedHandler(null)
})

describe('buildUrl', () => {
  it('drops empty values and keeps zero and false', () => {
    expect(buildUrl('/api/log/', { p: 0, type: '', username: undefined, model_name: null, x: false })).toBe(
      '/api/log/?p=0&x=false',
    )
  })
  it('appends to an existing query and encodes', () => {
    expect(buildUrl('/api/x?a=1', { keyword: 'a b&c' })).toBe('/api/x?a=1&keyword=a+b%26c')
    expect(buildUrl('/api/x')).toBe('/api/x')
  })
})

describe('request', () => {
  it('sends JSON and unwraps data', async () => {
    const f = reply({ success: true, message: '', data: { id: 7 } })
    vi.stubGlobal('fetch', f)
    await expect(http.post('/api/token/', { name: 'n' })).resolves.toEqual({ id: 7 })
    const [url, init] = f.mock.calls[0]
    expect(url).toBe('/api/token/')
    expect(init.method).toBe('POST')
    expect(init.credentials).toBe('same-origin')
    expect(init.headers['Content-Type']).toBe('application/json')
    expect(JSON.parse(init.body)).toEqual({ name: 'n' })
  })

  it('GET carries no body and passes the query', async () => {
    const f = reply({ success: true, message: '', data: [] })
    vi.stubGlobal('fetch', f)
    await http.get('/api/channel/', { p: 2 })
    const [url, init] = f.mock.calls[0]
    expect(url).toBe('/api/channel/?p=2')
    expect(init.body).toBeUndefined()
  })

  it('success:false becomes an ApiError with the server message', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'Token name is too long' }))
    const err = (await http.put('/api/token/', {}).catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toBe('Token name is too long')
    expect(err.status).toBe(200)
  })

  it('a non-JSON answer gives a readable error', async () => {
    vi.stubGlobal('fetch', reply('<html>Bad gateway</html>', 502, 'Bad Gateway'))
    await expect(http.get('/api/status')).rejects.toThrow('The server answered HTTP 502 Bad Gateway')
  })

  it('a network failure says the server cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')))
    const err = (await http.get('/api/status').catch((e: unknown) => e)) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect(err.status).toBe(0)
    expect(err.message).toMatch(/Cannot reach the server/)
  })

  it('401 calls the unauthorized hook and throws', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'Not logged in' }, 401, 'Unauthorized'))
    const hook = vi.fn()
    setUnauthorizedHandler(hook)
    await expect(http.get('/api/user/self')).rejects.toThrow('Not logged in')
    expect(hook).toHaveBeenCalledOnce()
  })

  it('429 surfaces the rate-limit message', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'Too many requests, slow down' }, 429))
    await expect(http.get('/api/status')).rejects.toMatchObject({ status: 429, message: 'Too many requests, slow down' })
  })

  it('a refusal keeps its extra fields on the error', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'upstream 401', time: 2.5 }))
    const err = (await requestEnvelope('GET', '/api/channel/test/1').catch((e: unknown) => e)) as ApiError
    expect(err.envelope?.time).toBe(2.5)
  })

  it('requestEnvelope keeps extra top-level fields', async () => {
    vi.stubGlobal('fetch', reply({ success: true, message: '', balance: 12.5 }))
    const env = await requestEnvelope('GET', '/api/channel/update_balance/3')
    expect(env.balance).toBe(12.5)
  })
})

describe('errorMessage', () => {
  it('reads errors, strings and unknowns', () => {
    expect(errorMessage(new ApiError('x'))).toBe('x')
    expect(errorMessage('plain')).toBe('plain')
    expect(errorMessage(42)).toBe('Something went wrong')
  })
})

describe('messages in Chinese', () => {
  afterEach(() => {
    setLocale('en', false)
    vi.unstubAllGlobals()
  })
  it('the console\'s own error texts follow the language; the server\'s message is kept as is', async () => {
    setLocale('zh-CN', false)
    vi.stubGlobal('fetch', vi.fn().mockRejectedValue(new TypeError('Failed to fetch')))
    const err = (await http.get('/api/status').catch((e: unknown) => e)) as Error
    expect(err.message).toBe('无法连接服务器，请检查网络后重试。')
    const f = vi.fn().mockResolvedValue(new Response('<html>', { status: 502, statusText: 'Bad Gateway' }))
    vi.stubGlobal('fetch', f)
    await expect(http.get('/api/status')).rejects.toThrow('服务器返回 HTTP 502 Bad Gateway')
    expect((f.mock.calls[0][1].headers as Record<string, string>)['Accept-Language']).toBe('zh-CN')
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(new Response(JSON.stringify({ success: false, message: '令牌不存在' }))))
    await expect(http.get('/api/token/1')).rejects.toThrow('令牌不存在')
    expect(errorMessage(42)).toBe('出错了')
  })
})
