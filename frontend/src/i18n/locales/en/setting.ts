/** English messages: setting. Keys are mirrored in ../zh-CN/setting.ts (typed against this file). */
export default {
} as const
