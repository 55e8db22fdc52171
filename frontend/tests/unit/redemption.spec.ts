import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'
import {
  createRedemptions,
  deleteRedemption,
  getRedemption,
  listRedemptions,
  searchRedemptions,
  setRedemptionStatus,
  updateRedemption,
} from '@/api/redemption'
import { codesFileName, codesText, downloadText } from '@/pages/redemption/codes'

function reply(body: unknown, status = 200) {
  return vi.fn().mockImplementation(() => Promise.resolve(new Response(JSON.stringify(body), { status })))
}
const ok = (data: unknown) => reply({ success: true, message: '', data })
function call(f: ReturnType<typeof vi.fn>, i = 0) {
  const [url, init] = f.mock.calls[i] as [string, RequestInit]
  return { url, method: init.method, body: init.body ? JSON.parse(init.body as string) : undefined }
}

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

describe('redemption api', () => {
  it('lists, searches and gets', async () => {
    const f = ok([])
    vi.stubGlobal('fetch', f)
    await listRedemptions(1)
    expect(call(f)).toEqual({ url: '/api/redemption/?p=1', method: 'GET', body: undefined })
    await searchRedemptions('promo')
    expect(call(f, 1).url).toBe('/api/redemption/search?keyword=promo')
    await getRedemption(3)
    expect(call(f, 2).url).toBe('/api/redemption/3')
  })

  it('creates a batch and returns the keys', async () => {
    const f = ok(['k1', 'k2', 'k3'])
    vi.stubGlobal('fetch', f)
    await expect(createRedemptions({ name: 'promo', quota: 500000, count: 3 })).resolves.toEqual(['k1', 'k2', 'k3'])
    expect(call(f)).toEqual({ url: '/api/redemption/', method: 'POST', body: { name: 'promo', quota: 500000, count: 3 } })
  })

  it('updates, toggles the status and deletes', async () => {
    const f = ok({ id: 2 })
    vi.stubGlobal('fetch', f)
    await updateRedemption({ id: 2, name: 'renamed' })
    expect(call(f)).toEqual({ url: '/api/redemption/', method: 'PUT', body: { id: 2, name: 'renamed' } })
    await setRedemptionStatus(2, 2)
    expect(call(f, 1)).toEqual({ url: '/api/redemption/?status_only=1', method: 'PUT', body: { id: 2, status: 2 } })
    await deleteRedemption(2)
    expect(call(f, 2)).toMatchObject({ url: '/api/redemption/2', method: 'DELETE' })
  })

  it('passes the refusal of a used code on as an ApiError', async () => {
    const msg = 'This redemption code has already been used: its status and quota can no longer change'
    vi.stubGlobal('fetch', reply({ success: false, message: msg }))
    const err = await setRedemptionStatus(1, 2).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.message).toBe(msg)
  })
})

describe('created codes export', () => {
  it('puts one code per line', () => {
    expect(codesText(['a', 'b', 'c'])).toBe('a\nb\nc\n')
    expect(codesText([])).toBe('')
  })
  it('names the file after the batch', () => {
    expect(codesFileName('launch-promo')).toBe('redemption-codes-launch-promo.txt')
    expect(codesFileName(' Spring sale / 2024 ')).toBe('redemption-codes-Spring-sale-2024.txt')
    expect(codesFileName('')).toBe('redemption-codes-codes.txt')
  })
  it('downloads through a Blob link', async () => {
    const created: Blob[] = []
    const createObjectURL = vi.fn((b: Blob) => {
      created.push(b)
      return 'blob:x'
    })
    const saved = { create: URL.createObjectURL, revoke: URL.revokeObjectURL }
    URL.createObjectURL = createObjectURL
    URL.revokeObjectURL = vi.fn()
    let clicked: HTMLAnchorElement | null = null
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked = this
    })
    downloadText('a\nb\n', 'redemption-codes-x.txt')
    expect(clicked).not.toBeNull()
    expect(clicked!.download).toBe('redemption-codes-x.txt')
    expect(clicked!.href).toBe('blob:x')
    const text = await new Promise<string>((resolve) => {
      const fr = new FileReader()
      fr.onload = () => resolve(String(fr.result))
      fr.readAsText(created[0])
    })
    expect(text).toBe('a\nb\n')
    expect(created[0].type).toBe('text/plain;charset=utf-8')
    expect(document.querySelector('a[download]')).toBeNull() // the link is removed again
    URL.createObjectURL = saved.create
    URL.revokeObjectURL = saved.revoke
  })
})
