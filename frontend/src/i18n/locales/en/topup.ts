/** English messages: topup. Keys are mirrored in ../zh-CN/topup.ts (typed against this file). */
export default {
} as const
