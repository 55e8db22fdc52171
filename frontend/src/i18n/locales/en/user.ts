/** English messages: user. Keys are mirrored in ../zh-CN/user.ts (typed against this file). */
export default {
} as const
