/** English messages: home. Keys are mirrored in ../zh-CN/home.ts (typed against this file). */
export default {
} as const
