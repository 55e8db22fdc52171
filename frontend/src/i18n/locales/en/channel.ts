/** English messages: channel. Keys are mirrored in ../zh-CN/channel.ts (typed against this file). */
export default {
} as const
