/** English messages: token. Keys are mirrored in ../zh-CN/token.ts (typed against this file). */
export default {
} as const
