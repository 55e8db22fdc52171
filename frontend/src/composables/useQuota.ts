import { computed } from 'vue'
import { useStatusStore } from '@/stores/status'
import { compactNumber, displayToQuota, formatQuota, quotaToDisplay, type QuotaDisplay } from '@/utils/quota'
import { formatNumber } from '@/utils/format'
import { i18n, t } from '@/i18n'

/**
 * Quota formatting and conversion following the server's DisplayInCurrencyEnabled / QuotaPerUnit,
 * with numbers in the console's language (reactive: a template re-renders on a language switch).
 */
export function useQuota() {
  const status = useStatusStore()
  // the global locale ref: reactive, and usable outside a component's setup
  const locale = computed(() => i18n.global.locale.value)
  const display = computed<QuotaDisplay>(() => ({
    currency: status.displayInCurrency,
    perUnit: status.quotaPerUnit,
  }))
  return {
    display,
    currency: computed(() => display.value.currency),
    /** Label of the edit unit: `USD` or quota points (`quota points` / `点`), never "tokens". */
    unit: computed(() => (display.value.currency ? 'USD' : t('common.quota.points'))),
    format: (quota: number, digits = 2) => formatQuota(quota, display.value, digits, locale.value),
    /** A plain count in the current language (`1,234`). */
    number: (n: number) => formatNumber(n, {}, locale.value),
    /** A compact count (`1.2M` / `120万`); show `number(n)` on hover. */
    compact: (n: number) => compactNumber(n, locale.value),
    toDisplay: (quota: number) => quotaToDisplay(quota, display.value),
    fromDisplay: (value: number | null | undefined) => displayToQuota(value, display.value),
  }
}
