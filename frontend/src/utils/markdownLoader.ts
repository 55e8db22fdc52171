/** The Markdown/sanitizer module (marked + DOMPurify), loaded once on first use. */
export type MarkdownLib = typeof import('./markdown')

let pending: Promise<MarkdownLib> | null = null

export function loadMarkdown(): Promise<MarkdownLib> {
  if (!pending) {
    pending = import('./markdown').catch((e) => {
      pending = null // a failed chunk load may be retried
      throw e
    })
  }
  return pending
}
