/** English messages: chat. Keys are mirrored in ../zh-CN/chat.ts (typed against this file). */
export default {
  frameTitle: 'Chat',
  empty: 'No chat app is set up yet',
  hintRoot: 'Set a Chat link (for example a ChatGPT-Next-Web deployment) in Settings → Operation and it opens here.',
  hintUser: 'Ask your administrator to set up a chat app. Meanwhile, use your API key with any OpenAI client.',
  openSettings: 'Open settings',
  goTokens: 'Go to tokens',
} as const
