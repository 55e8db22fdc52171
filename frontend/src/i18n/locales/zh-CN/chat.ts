import type { Messages } from '../../schema'

/** 简体中文：chat */
const messages: Messages['chat'] = {
  frameTitle: '聊天',
  empty: '尚未配置聊天应用',
  hintRoot: '在「设置 → 运营设置」中填写聊天链接（例如一个 ChatGPT-Next-Web 部署），即可在此处打开。',
  hintUser: '请联系管理员配置聊天应用。在此之前，你可以在任意 OpenAI 客户端中使用你的 API 密钥。',
  openSettings: '打开设置',
  goTokens: '前往令牌',
}
export default messages
