/** English messages: shell. Keys are mirrored in ../zh-CN/shell.ts (typed against this file). */
export default {
} as const
