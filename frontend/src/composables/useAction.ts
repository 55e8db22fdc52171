import { ref } from 'vue'
import { useMessage } from 'naive-ui'
import { errorMessage } from '@/api/http'

/**
 * Runs a user action with a busy flag and visible feedback: a success toast when
 * `success` is given, and always an error toast with the server's message on failure.
 * Returns the action's result, or undefined when it failed.
 */
export function useAction() {
  const message = useMessage()
  const busy = ref(false)

  async function run<T>(fn: () => Promise<T>, success?: string | ((r: T) => string)): Promise<T | undefined> {
    busy.value = true
    try {
      const r = await fn()
      if (success) message.success(typeof success === 'function' ? success(r) : success)
      return r
    } catch (e) {
      message.error(errorMessage(e), { duration: 6000, closable: true })
      return undefined
    } finally {
      busy.value = false
    }
  }

  return { busy, run }
}
