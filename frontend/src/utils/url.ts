/** One API shows HomePageContent / About in an iframe when it is a URL. (No Markdown library here.) */
export function isUrl(s: string): boolean {
  return /^https?:\/\/\S+$/i.test(s.trim())
}
