import { computed, getCurrentInstance, onBeforeUnmount, ref } from 'vue'

/**
 * A resend cooldown for "Send code"/"Send link" buttons: `start()` counts `seconds` down to 0
 * once a second; `active` is true meanwhile. The timer stops with the component.
 */
export function useCooldown(seconds = 60) {
  const left = ref(0)
  let timer: ReturnType<typeof setInterval> | null = null

  function stop(): void {
    if (timer) clearInterval(timer)
    timer = null
  }

  function start(): void {
    stop()
    left.value = seconds
    timer = setInterval(() => {
      left.value = Math.max(0, left.value - 1)
      if (left.value === 0) stop()
    }, 1000)
  }

  if (getCurrentInstance()) onBeforeUnmount(stop)

  return { left, active: computed(() => left.value > 0), start, stop }
}
