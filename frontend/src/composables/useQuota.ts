import { computed } from 'vue'
import { useStatusStore } from '@/stores/status'
import { displayToQuota, formatQuota, quotaToDisplay, type QuotaDisplay } from '@/utils/quota'

/** Quota formatting and conversion following the server's DisplayInCurrencyEnabled / QuotaPerUnit. */
export function useQuota() {
  const status = useStatusStore()
  const display = computed<QuotaDisplay>(() => ({
    currency: status.displayInCurrency,
    perUnit: status.quotaPerUnit,
  }))
  return {
    display,
    currency: computed(() => display.value.currency),
    /** Label of the edit unit: `USD` or `tokens`. */
    unit: computed(() => (display.value.currency ? 'USD' : 'tokens')),
    format: (quota: number, digits = 2) => formatQuota(quota, display.value, digits),
    toDisplay: (quota: number) => quotaToDisplay(quota, display.value),
    fromDisplay: (value: number | null | undefined) => displayToQuota(value, display.value),
  }
}
