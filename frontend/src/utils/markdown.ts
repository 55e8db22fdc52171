import { marked } from 'marked'
import DOMPurify from 'dompurify'

/** Markdown (HTML allowed) → sanitized HTML; scripts, handlers and javascript: URLs are removed. */
export function renderMarkdown(src: string): string {
  const html = marked.parse(src, { async: false, gfm: true, breaks: true }) as string
  return DOMPurify.sanitize(html, { ADD_ATTR: ['target'] })
}

/** Sanitized HTML for the admin's footer. */
export function sanitizeHtml(src: string): string {
  return DOMPurify.sanitize(src, { ADD_ATTR: ['target'] })
}

/** One API shows HomePageContent / About in an iframe when it is a URL. */
export function isUrl(s: string): boolean {
  return /^https?:\/\/\S+$/i.test(s.trim())
}
