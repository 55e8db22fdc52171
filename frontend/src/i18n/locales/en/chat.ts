/** English messages: chat. Keys are mirrored in ../zh-CN/chat.ts (typed against this file). */
export default {
} as const
