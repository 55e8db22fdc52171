/** English messages: dashboard. Keys are mirrored in ../zh-CN/dashboard.ts (typed against this file). */
export default {
} as const
