import { computed, ref, shallowRef } from 'vue'
import { useRoute } from 'vue-router'
import type { FormInst } from 'naive-ui'
import { errorMessage } from '@/api/http'

/**
 * The scaffold of an add/edit page: `/x/add` vs `/x/edit/:id`, loading the record being
 * edited (`loading`, `loadError` for the alert, `original`; `apply` fills the form from it)
 * and `validate()` for the form bound with `ref="formRef"`.
 */
export function useEditPage<T>(fetch: (id: number) => Promise<T>, apply: (item: T) => void) {
  const route = useRoute()
  const id = computed(() => (route.params.id ? Number(route.params.id) : 0))
  const editing = computed(() => id.value > 0)
  const original = shallowRef<T | null>(null)
  const loading = ref(false)
  const loadError = ref('')
  const formRef = ref<FormInst | null>(null)

  async function load(): Promise<void> {
    if (!editing.value) return
    loading.value = true
    loadError.value = ''
    try {
      const item = await fetch(id.value)
      original.value = item
      apply(item)
    } catch (e) {
      loadError.value = errorMessage(e)
    } finally {
      loading.value = false
    }
  }

  /** True when the form passes its rules (the failing fields show their messages). */
  async function validate(): Promise<boolean> {
    try {
      await formRef.value?.validate()
      return true
    } catch {
      return false
    }
  }

  return { id, editing, original, loading, loadError, formRef, load, validate }
}
