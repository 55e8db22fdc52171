/** English messages: common. Keys are mirrored in ../zh-CN/common.ts (typed against this file). */
export default {
  language: 'Language',
} as const
