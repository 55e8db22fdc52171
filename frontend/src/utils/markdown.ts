import { marked } from 'marked'
import DOMPurify from 'dompurify'

// marked + DOMPurify weigh ~35 kB gzip: pages import this module lazily (MarkdownView, AppFooter);
// `isUrl` alone lives in ./url.

/** Markdown (HTML allowed) → sanitized HTML; scripts, handlers and javascript: URLs are removed. */
export function renderMarkdown(src: string): string {
  const html = marked.parse(src, { async: false, gfm: true, breaks: true }) as string
  return DOMPurify.sanitize(html, { ADD_ATTR: ['target'] })
}

/** Sanitized HTML for the admin's footer. */
export function sanitizeHtml(src: string): string {
  return DOMPurify.sanitize(src, { ADD_ATTR: ['target'] })
}

export { isUrl } from './url'
