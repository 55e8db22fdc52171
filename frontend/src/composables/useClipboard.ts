import { useMessage } from 'naive-ui'
import { t } from '@/i18n'

/** Writes text to the clipboard (with a fallback for plain-http pages) and says so. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text)
      return true
    }
  } catch {
    /* fall through to the textarea fallback */
  }
  const ta = document.createElement('textarea')
  ta.value = text
  ta.setAttribute('readonly', '')
  ta.style.position = 'fixed'
  ta.style.opacity = '0'
  document.body.appendChild(ta)
  ta.select()
  let ok = false
  try {
    ok = document.execCommand('copy')
  } catch {
    ok = false
  }
  document.body.removeChild(ta)
  return ok
}

export function useClipboard() {
  const message = useMessage()
  async function copy(text: string, what: string = t('common.clipboard.copied')): Promise<boolean> {
    const ok = await copyText(text)
    if (ok) message.success(what)
    else message.warning(t('common.clipboard.failed', { text }), { duration: 10000, closable: true })
    return ok
  }
  return { copy }
}
