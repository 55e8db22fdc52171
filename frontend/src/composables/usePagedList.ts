import { ref, shallowRef } from 'vue'
import { errorMessage } from '@/api/http'
import { PAGE_SIZE } from '@/api/types'

/**
 * One API's pagination: `p` is 0-based, pages hold PAGE_SIZE rows and carry no total, so
 * "there is a next page" means this page is full. A search replaces the list with the
 * (unpaginated) search result until it is cleared.
 */
export function usePagedList<T>(
  fetchPage: (p: number) => Promise<T[]>,
  searchFn?: (keyword: string) => Promise<T[]>,
) {
  const rows = shallowRef<T[]>([])
  const page = ref(0)
  const loading = ref(false)
  const error = ref('')
  const hasNext = ref(false)
  const keyword = ref('')
  const searching = ref(false)
  let seq = 0

  async function load(p = page.value): Promise<void> {
    const mine = ++seq
    loading.value = true
    error.value = ''
    try {
      const kw = keyword.value.trim()
      const data = kw && searchFn ? await searchFn(kw) : await fetchPage(Math.max(0, p))
      if (mine !== seq) return
      rows.value = data ?? []
      searching.value = Boolean(kw && searchFn)
      page.value = searching.value ? 0 : Math.max(0, p)
      hasNext.value = !searching.value && rows.value.length >= PAGE_SIZE
    } catch (e) {
      if (mine !== seq) return
      error.value = errorMessage(e)
      rows.value = []
      hasNext.value = false
    } finally {
      if (mine === seq) loading.value = false
    }
  }

  const reload = () => load(page.value)
  const next = () => (hasNext.value ? load(page.value + 1) : Promise.resolve())
  const prev = () => (page.value > 0 ? load(page.value - 1) : Promise.resolve())
  function search(kw: string): Promise<void> {
    keyword.value = kw
    return load(0)
  }

  return { rows, page, loading, error, hasNext, keyword, searching, load, reload, next, prev, search }
}

/** What `usePagedList` returns (the `list` prop of `ListCard`). */
export type PagedList<T> = ReturnType<typeof usePagedList<T>>
