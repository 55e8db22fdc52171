import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { listChannelTypes, type ChannelTypeSpec } from '@/api/channel'
import { errorMessage } from '@/api/http'
import { t } from '@/i18n'
import { channelTypeOptions, normalizeChannelTypes, unknownChannelType } from '@/utils/channelTypes'

/**
 * The server's provider registry (`GET /api/channel/types`), loaded once per session and
 * shared by the channel pages. `load()` is cheap to call from every page: it fetches only
 * the first time (or again after a failure), and concurrent callers share one request.
 */
export const useChannelTypes = defineStore('channelTypes', () => {
  const types = ref<ChannelTypeSpec[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref('')
  let pending: Promise<void> | null = null

  const byId = computed(() => new Map(types.value.map((t) => [t.id, t])))
  const options = computed(() => channelTypeOptions(types.value))

  function load(force = false): Promise<void> {
    if (loaded.value && !force) return Promise.resolve()
    if (pending) return pending
    loading.value = true
    error.value = ''
    pending = listChannelTypes()
      .then((list) => {
        const norm = normalizeChannelTypes(list)
        if (!norm.length) throw new Error(t('common.channelTypes.noneListed'))
        types.value = norm
        loaded.value = true
      })
      .catch((e: unknown) => {
        error.value = errorMessage(e)
      })
      .finally(() => {
        loading.value = false
        pending = null
      })
    return pending
  }

  /** The type's registry entry; an id the registry does not list gets a "Type N" placeholder. */
  function get(id: number): ChannelTypeSpec {
    return byId.value.get(Number(id)) ?? unknownChannelType(Number(id))
  }

  function isKnown(id: number): boolean {
    return byId.value.has(Number(id))
  }

  function name(id: number): string {
    return get(id).name
  }

  /** The currency of the balance the server can query for this type, or null. */
  function balanceCurrency(id: number): 'USD' | 'CNY' | null {
    return get(id).balance
  }

  /** Forgets the list (the next `load()` fetches again). */
  function reset(): void {
    types.value = []
    loaded.value = false
    error.value = ''
  }

  return { types, loaded, loading, error, byId, options, load, get, isKnown, name, balanceCurrency, reset }
})
