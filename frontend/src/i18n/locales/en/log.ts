/** English messages: log. Keys are mirrored in ../zh-CN/log.ts (typed against this file). */
export default {
} as const
