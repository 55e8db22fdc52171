/** English messages: about. Keys are mirrored in ../zh-CN/about.ts (typed against this file). */
export default {
  title: 'About',
  description: 'What {name} is and who runs it',
  loadFailed: 'The About text could not be loaded: {error}',
  intro: 'is an OpenAI-compatible gateway for large language models',
  builtOn: ', built on OneRelay',
  introRest: '. Applications talk to one endpoint with one API key, and the gateway forwards each request to an upstream provider — OpenAI, Azure, Anthropic, Gemini and many more — while it enforces quotas, bills usage and logs every call.',
  compat: 'Its management API is compatible with One API, so existing scripts, clients and dashboards keep working.',
  hintBefore: 'The administrator can replace this text in',
  hintPath: 'Settings → Other',
  hintAfter: '(Markdown, HTML or a URL to show a page).',
} as const
