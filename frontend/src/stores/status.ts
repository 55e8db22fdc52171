import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { getStatus } from '@/api/session'
import type { Status } from '@/api/types'
import { applyServerDefault } from '@/i18n'

const CACHE_KEY = 'onerelay.status'

function cached(): Status | null {
  try {
    const raw = localStorage.getItem(CACHE_KEY)
    return raw ? (JSON.parse(raw) as Status) : null
  } catch {
    return null
  }
}

/** `/api/status`: system name, logo, footer, currency display, enabled login methods. */
export const useStatusStore = defineStore('status', () => {
  const status = ref<Status | null>(cached())
  const loaded = ref(false)
  const error = ref('')

  const systemName = computed(() => status.value?.system_name || 'OneRelay')
  const logo = computed(() => status.value?.logo || '/favicon.svg')
  const quotaPerUnit = computed(() => status.value?.quota_per_unit || 500000)
  const displayInCurrency = computed(() => status.value?.display_in_currency ?? true)

  async function load(): Promise<void> {
    try {
      const s = await getStatus()
      status.value = s
      error.value = ''
      applyServerDefault(s.language)
      try {
        localStorage.setItem(CACHE_KEY, JSON.stringify(s))
      } catch {
        /* storage full or disabled: the cache is only a speed-up */
      }
      if (typeof document !== 'undefined') {
        // keep the page's part of the tab title ("仪表盘 · Name"), rename the system
        const name = s.system_name || 'OneRelay'
        const i = document.title.lastIndexOf(' · ')
        document.title = i >= 0 ? document.title.slice(0, i + 3) + name : name
      }
    } catch (e) {
      error.value = (e as Error).message
    } finally {
      loaded.value = true
    }
  }

  return { status, loaded, error, systemName, logo, quotaPerUnit, displayInCurrency, load }
})
