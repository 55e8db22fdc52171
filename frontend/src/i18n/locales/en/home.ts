/** English messages: home. Keys are mirrored in ../zh-CN/home.ts (typed against this file). */
export default {
  notice: 'Notice',
  loadFailed: 'The home page content could not be loaded: {error}',
  frameTitle: 'Home page',
  landing: {
    eyebrow: 'OpenAI-compatible LLM gateway',
    lead: 'One OpenAI-compatible endpoint for every model provider',
    sub: 'Give your apps a single key and base URL. {name} routes each request to the right upstream channel, meters usage against quotas and keeps a log of everything.',
    openDashboard: 'Open dashboard',
    manageKeys: 'Manage API keys',
    logIn: 'Log in',
    signUp: 'Sign up',
    pointDropInBefore: 'Drop-in for',
    pointDropInAfter: ', embeddings, images and audio',
    pointStreaming: 'Streaming, tool calls and vision pass straight through',
    featuresLabel: 'Features',
    features: {
      providers: {
        title: 'Every provider, one API',
        text: 'OpenAI, Azure, Anthropic, Gemini, DeepSeek, Qwen and more behind the OpenAI format. Existing SDKs and tools work unchanged.',
      },
      billing: {
        title: 'Quotas & billing',
        text: 'Balances per user, limits per key, model and group ratios, redemption codes and invite rewards.',
      },
      channels: {
        title: 'Channels with retries',
        text: 'Priorities and weights spread the load; a failed request retries on another channel, and broken channels switch off by themselves.',
      },
      logs: {
        title: 'Logs & usage',
        text: 'Every request logged with model, tokens, cost and latency, plus a dashboard of usage per day and model.',
      },
    },
  },
  quickStart: {
    title: 'Quick start',
    subtitle: 'Point any OpenAI SDK or tool at this base URL.',
    baseUrl: 'Base URL',
    baseUrlCopied: 'Base URL copied',
    copyBaseUrl: 'Copy the base URL',
    snippetCopied: 'Snippet copied',
    copySnippet: 'Copy the snippet',
    keyComment: 'a key from the Tokens page',
  },
} as const
