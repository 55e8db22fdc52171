/**
 * The model the dashboard's example request uses: one the user's group can call
 * (`/api/user/available_models`), preferring a small chat model; null when there is none.
 */
const NOT_CHAT = /embed|tts|whisper|dall-?e|image|moderation|audio|transcri|rerank|speech|vision-preview|realtime|search/i
const PREFERRED = [/^gpt-4o-mini$/i, /^gpt-4\.1-mini$/i, /mini|flash|haiku|turbo|lite|small/i, /gpt|claude|gemini|qwen|glm|deepseek|llama|mistral|moonshot|ernie|doubao|chat/i]

export function pickExampleModel(models: string[]): string | null {
  const chat = models.filter((m) => m && !NOT_CHAT.test(m))
  for (const p of PREFERRED) {
    const hit = chat.find((m) => p.test(m))
    if (hit) return hit
  }
  return chat[0] ?? models[0] ?? null
}
