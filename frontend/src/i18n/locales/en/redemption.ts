/** English messages: redemption. Keys are mirrored in ../zh-CN/redemption.ts (typed against this file). */
export default {
} as const
