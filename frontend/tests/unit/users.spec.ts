import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import { createUser, deleteUser, getUser, listUsers, manageUser, searchUsers, updateUser } from '@/api/users'

function reply(body: unknown, status = 200) {
  return vi.fn().mockImplementation(() => Promise.resolve(new Response(JSON.stringify(body), { status })))
}
const ok = (data: unknown) => reply({ success: true, message: '', data })
function call(f: ReturnType<typeof vi.fn>, i = 0) {
  const [url, init] = f.mock.calls[i] as [string, RequestInit]
  return { url, method: init.method, body: init.body ? JSON.parse(init.body as string) : undefined }
}

afterEach(() => vi.unstubAllGlobals())

describe('users api', () => {
  it('lists a page, with the sort order when given', async () => {
    const f = ok([{ id: 1, username: 'root' }])
    vi.stubGlobal('fetch', f)
    await expect(listUsers(0)).resolves.toEqual([{ id: 1, username: 'root' }])
    expect(call(f)).toEqual({ url: '/api/user/?p=0', method: 'GET', body: undefined })
    await listUsers(3, 'request_count')
    expect(call(f, 1).url).toBe('/api/user/?p=3&order=request_count')
  })

  it('searches and gets one user', async () => {
    const f = ok([])
    vi.stubGlobal('fetch', f)
    await searchUsers('ali@x')
    expect(call(f).url).toBe('/api/user/search?keyword=ali%40x')
    await getUser(12)
    expect(call(f, 1)).toMatchObject({ url: '/api/user/12', method: 'GET' })
  })

  it('creates a user', async () => {
    const f = ok({ id: 5, username: 'bob' })
    vi.stubGlobal('fetch', f)
    await expect(createUser({ username: 'bob', password: 'password1', display_name: 'Bob' })).resolves.toMatchObject({ id: 5 })
    expect(call(f)).toEqual({ url: '/api/user/', method: 'POST', body: { username: 'bob', password: 'password1', display_name: 'Bob' } })
  })

  it('updates with PUT and drops an empty password', async () => {
    const f = ok({ id: 5 })
    vi.stubGlobal('fetch', f)
    await updateUser({ id: 5, username: 'bob', display_name: 'B', password: '', group: 'vip', quota: 1000 })
    expect(call(f)).toEqual({ url: '/api/user/', method: 'PUT', body: { id: 5, username: 'bob', display_name: 'B', group: 'vip', quota: 1000 } })
    await updateUser({ id: 5, password: 'new-password' })
    expect(call(f, 1).body).toEqual({ id: 5, password: 'new-password' })
  })

  it('deletes by id', async () => {
    const f = ok(null)
    vi.stubGlobal('fetch', f)
    await deleteUser(4)
    expect(call(f)).toMatchObject({ url: '/api/user/4', method: 'DELETE' })
  })

  it('manages by username and returns the new role and status', async () => {
    const f = ok({ role: 10, status: 1 })
    vi.stubGlobal('fetch', f)
    await expect(manageUser('alice', 'promote')).resolves.toEqual({ role: 10, status: 1 })
    expect(call(f)).toEqual({ url: '/api/user/manage', method: 'POST', body: { username: 'alice', action: 'promote' } })
  })

  it('shows the server refusal as an ApiError', async () => {
    vi.stubGlobal('fetch', reply({ success: false, message: 'You cannot manage a user whose role is equal to or higher than yours' }))
    const err = await manageUser('root', 'disable').catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toMatch(/equal to or higher/)
  })
})
