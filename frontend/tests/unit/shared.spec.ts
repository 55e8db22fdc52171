import { describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/http'

const route = { params: {} as Record<string, string> }
vi.mock('vue-router', () => ({ useRoute: () => route }))

const { useEditPage } = await import('@/composables/useEditPage')

describe('useEditPage', () => {
  it('is an add page without an id and loads nothing', async () => {
    route.params = {}
    const fetch = vi.fn()
    const page = useEditPage(fetch, () => {})
    expect(page.editing.value).toBe(false)
    await page.load()
    expect(fetch).not.toHaveBeenCalled()
  })

  it('loads the record of /x/edit/:id and hands it to apply', async () => {
    route.params = { id: '7' }
    const applied: unknown[] = []
    const page = useEditPage(async (id: number) => ({ id, name: 'n' }), (item) => applied.push(item))
    expect(page.editing.value).toBe(true)
    await page.load()
    expect(page.original.value).toEqual({ id: 7, name: 'n' })
    expect(applied).toEqual([{ id: 7, name: 'n' }])
    expect(page.loading.value).toBe(false)
    expect(page.loadError.value).toBe('')
  })

  it('keeps the server message when loading fails', async () => {
    route.params = { id: '3' }
    const page = useEditPage(() => Promise.reject(new ApiError('Token not found', 200)), () => {})
    await page.load()
    expect(page.loadError.value).toBe('Token not found')
    expect(page.original.value).toBeNull()
    expect(page.loading.value).toBe(false)
  })

  it('validate() reports the form rules', async () => {
    route.params = {}
    const page = useEditPage(vi.fn(), () => {})
    page.formRef.value = { validate: () => Promise.reject([[{ message: 'x' }]]) } as never
    expect(await page.validate()).toBe(false)
    page.formRef.value = { validate: () => Promise.resolve() } as never
    expect(await page.validate()).toBe(true)
  })
})
