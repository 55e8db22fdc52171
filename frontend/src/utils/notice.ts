/**
 * The Notice option pops up as a modal when it changed since the user last closed it
 * (One API does this); a short hash of the text is remembered per browser.
 */
const KEY = 'onerelay.noticeSeen'

/** A stable short hash (FNV-1a, 32-bit, base 36) of the notice text. */
export function noticeHash(text: string): string {
  let h = 0x811c9dc5
  const s = text.trim()
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(36)
}

export function seenNoticeHash(): string {
  try {
    return localStorage.getItem(KEY) || ''
  } catch {
    return ''
  }
}

export function markNoticeSeen(text: string): void {
  try {
    localStorage.setItem(KEY, noticeHash(text))
  } catch {
    /* ignore */
  }
}

/** True when the notice has text and differs from the one last closed here. */
export function noticeIsNew(text: string): boolean {
  return Boolean(text.trim()) && noticeHash(text) !== seenNoticeHash()
}
