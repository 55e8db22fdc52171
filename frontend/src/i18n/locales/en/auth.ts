/** English messages: auth. Keys are mirrored in ../zh-CN/auth.ts (typed against this file). */
export default {
} as const
