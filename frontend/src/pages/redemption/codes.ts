/** Pure helpers of the redemption pages: the created-codes export. */

/** One code per line, ending with a newline (what "Copy all" and the .txt contain). */
export function codesText(codes: string[]): string {
  return codes.length ? codes.join('\n') + '\n' : ''
}

/** `redemption-codes-<name>.txt`, the name reduced to file-name-safe characters. */
export function codesFileName(name: string): string {
  const safe = (name || '')
    .trim()
    .replace(/[^\p{L}\p{N}_-]+/gu, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
  return `redemption-codes-${safe || 'codes'}.txt`
}

/** Saves text as a file through a Blob link (no server round trip). */
export function downloadText(text: string, fileName: string): void {
  const blob = new Blob([text], { type: 'text/plain;charset=utf-8' })
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = fileName
  a.rel = 'noopener'
  a.style.display = 'none'
  document.body.appendChild(a)
  a.click()
  document.body.removeChild(a)
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
