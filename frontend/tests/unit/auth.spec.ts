import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import {
  confirmReset,
  forgetAffCode,
  getAbout,
  getHomePageContent,
  getNotice,
  githubAuthorizeUrl,
  larkAuthorizeUrl,
  oauthLogin,
  oauthRedirectUri,
  oidcAuthorizeUrl,
  register,
  rememberAffCode,
  sendResetEmail,
  wechatLogin,
} from '@/api/auth'
import { newTransactionId, redeemCode, topUpUrl } from '@/api/topup'
import { useCooldown } from '@/pages/auth/useCooldown'

type Call = [string, RequestInit]

function reply(body: unknown, status = 200) {
  const f = vi.fn().mockImplementation(async () => new Response(JSON.stringify(body), { status }))
  vi.stubGlobal('fetch', f)
  return f
}
const call = (f: ReturnType<typeof vi.fn>, i = 0) => f.mock.calls[i] as Call
const bodyOf = (c: Call) => JSON.parse(String(c[1].body))
const queryOf = (url: string) => Object.fromEntries(new URL(url, 'http://x').searchParams)

beforeEach(() => localStorage.clear())
afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('register', () => {
  it('posts the form, sends aff_code and the Turnstile token in the query', async () => {
    const f = reply({ success: true, message: '' })
    await register(
      { username: 'alice', password: 'secret-123', email: ' a@b.co ', verification_code: 'ABC123', aff_code: 'X7Kq' },
      'tok-1',
    )
    const [url, init] = call(f)
    expect(url).toBe('/api/user/register?turnstile=tok-1')
    expect(init.method).toBe('POST')
    expect(bodyOf(call(f))).toEqual({
      username: 'alice',
      password: 'secret-123',
      email: 'a@b.co',
      verification_code: 'ABC123',
      aff_code: 'X7Kq',
    })
  })

  it('leaves out empty optional fields and the missing token', async () => {
    const f = reply({ success: true, message: '' })
    await register({ username: 'bob', password: 'secret-123', email: '', aff_code: '  ' })
    const [url] = call(f)
    expect(url).toBe('/api/user/register')
    expect(bodyOf(call(f))).toEqual({ username: 'bob', password: 'secret-123' })
  })

  it('throws the server message', async () => {
    reply({ success: false, message: 'That username is already taken' })
    const err = await register({ username: 'root', password: 'secret-123' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).message).toBe('That username is already taken')
  })
})

describe('invite code', () => {
  it('remembers ?aff= and falls back to the stored one', () => {
    expect(rememberAffCode('AbC1')).toBe('AbC1')
    expect(localStorage.getItem('aff')).toBe('AbC1')
    expect(rememberAffCode(undefined)).toBe('AbC1')
    expect(rememberAffCode(['x'])).toBe('AbC1')
    forgetAffCode()
    expect(rememberAffCode(undefined)).toBe('')
  })
})

describe('password reset', () => {
  it('sends the reset email with the address (and token) in the query', async () => {
    const f = reply({ success: true, message: '' })
    await sendResetEmail('a+b@c.co', 'tt')
    expect(call(f)[0]).toBe('/api/reset_password?email=a%2Bb%40c.co&turnstile=tt')
    expect(call(f)[1].method).toBe('GET')
  })
  it('confirms with {email, token} and returns the new password', async () => {
    const f = reply({ success: true, message: '', data: 'N3wPassw0rd!' })
    await expect(confirmReset('a@b.co', 'abc')).resolves.toBe('N3wPassw0rd!')
    expect(call(f)[0]).toBe('/api/user/reset')
    expect(call(f)[1].method).toBe('POST')
    expect(bodyOf(call(f))).toEqual({ email: 'a@b.co', token: 'abc' })
  })
  it('shows an expired link as an ApiError', async () => {
    reply({ success: false, message: 'The reset link is invalid or has expired' })
    await expect(confirmReset('a@b.co', 'abc')).rejects.toThrow('The reset link is invalid or has expired')
  })
})

describe('oauth', () => {
  it('logs in: code and state in the query, the user in data', async () => {
    const f = reply({ success: true, message: '', data: { id: 3, username: 'github_3' } })
    const r = await oauthLogin('github', 'c0de', 'st8')
    expect(call(f)[0]).toBe('/api/oauth/github?code=c0de&state=st8')
    expect(r).toEqual({ bound: false, user: { id: 3, username: 'github_3' } })
  })
  it('recognises a bind by the message "bind"', async () => {
    reply({ success: true, message: 'bind' })
    await expect(oauthLogin('lark', 'c', 's')).resolves.toEqual({ bound: true, user: null })
  })
  it('a refused state becomes an ApiError with status 403', async () => {
    reply({ success: false, message: 'state is empty or not same' }, 403)
    const err = await oauthLogin('oidc', 'c', 'bad').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).message).toBe('state is empty or not same')
    expect((err as ApiError).status).toBe(403)
  })
  it('wechat login sends the code', async () => {
    const f = reply({ success: true, message: '', data: { id: 9 } })
    await expect(wechatLogin('123456')).resolves.toEqual({ id: 9 })
    expect(call(f)[0]).toBe('/api/oauth/wechat?code=123456')
  })

  it('builds the provider URLs', () => {
    const gh = new URL(githubAuthorizeUrl('Iv1.abc', 'st8'))
    expect(gh.origin + gh.pathname).toBe('https://github.com/login/oauth/authorize')
    expect(Object.fromEntries(gh.searchParams)).toEqual({ client_id: 'Iv1.abc', state: 'st8', scope: 'user:email' })

    const redirect = oauthRedirectUri('https://relay.example.com/', 'lark', 'http://ignored')
    expect(redirect).toBe('https://relay.example.com/oauth/lark')
    expect(oauthRedirectUri('', 'oidc', 'http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000/oauth/oidc')

    const lark = new URL(larkAuthorizeUrl('cli_1', redirect, 's'))
    expect(lark.host).toBe('accounts.feishu.cn')
    expect(Object.fromEntries(lark.searchParams)).toEqual({
      client_id: 'cli_1',
      redirect_uri: 'https://relay.example.com/oauth/lark',
      response_type: 'code',
      state: 's',
    })

    const oidc = oidcAuthorizeUrl('https://idp.example.com/authorize?prompt=login', 'cid', 'https://r/oauth/oidc', 's2')
    expect(oidc.startsWith('https://idp.example.com/authorize?prompt=login&')).toBe(true)
    expect(queryOf(oidc)).toEqual({
      prompt: 'login',
      client_id: 'cid',
      redirect_uri: 'https://r/oauth/oidc',
      response_type: 'code',
      scope: 'openid profile email',
      state: 's2',
    })
  })
})

describe('public content', () => {
  it('reads notice, about and home page content, with null as empty', async () => {
    const f = reply({ success: true, message: '', data: '# Hi' })
    await expect(getNotice()).resolves.toBe('# Hi')
    await expect(getAbout()).resolves.toBe('# Hi')
    await expect(getHomePageContent()).resolves.toBe('# Hi')
    expect(f.mock.calls.map((c) => c[0])).toEqual(['/api/notice', '/api/about', '/api/home_page_content'])
    reply({ success: true, message: '', data: null })
    await expect(getNotice()).resolves.toBe('')
  })
})

describe('topup', () => {
  it('redeems a trimmed key and returns the quota added', async () => {
    const f = reply({ success: true, message: '', data: 500000 })
    await expect(redeemCode('  abc-123 ')).resolves.toBe(500000)
    expect(call(f)[0]).toBe('/api/user/topup')
    expect(call(f)[1].method).toBe('POST')
    expect(bodyOf(call(f))).toEqual({ key: 'abc-123' })
  })
  it('throws the server message for a used code', async () => {
    reply({ success: false, message: 'This redemption code has already been used' })
    await expect(redeemCode('x')).rejects.toThrow('This redemption code has already been used')
  })
  it('adds username, user_id and transaction_id to the shop link', () => {
    const u = topUpUrl('https://shop.example.com/buy', 'al ice', 7, 'tx1')
    expect(u).toBe('https://shop.example.com/buy?username=al+ice&user_id=7&transaction_id=tx1')
    expect(topUpUrl('https://s.example/p?x=1#top', 'a', 1, 't')).toBe(
      'https://s.example/p?x=1&username=a&user_id=1&transaction_id=t#top',
    )
    expect(queryOf(topUpUrl('https://s.example/', 'a', 1)).transaction_id).toMatch(/^[0-9a-f]{32}$/)
    expect(newTransactionId()).not.toBe(newTransactionId())
  })
})

describe('useCooldown', () => {
  it('counts down once a second and stops at zero', () => {
    vi.useFakeTimers()
    const c = useCooldown(3)
    expect(c.active.value).toBe(false)
    c.start()
    expect(c.left.value).toBe(3)
    expect(c.active.value).toBe(true)
    vi.advanceTimersByTime(2000)
    expect(c.left.value).toBe(1)
    vi.advanceTimersByTime(5000)
    expect(c.left.value).toBe(0)
    expect(c.active.value).toBe(false)
  })
})
