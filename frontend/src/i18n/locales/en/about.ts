/** English messages: about. Keys are mirrored in ../zh-CN/about.ts (typed against this file). */
export default {
} as const
