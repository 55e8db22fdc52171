import type { Messages } from '../../schema'

/** 简体中文：about */
const messages: Messages['about'] = {
  title: '关于',
  description: '{name} 是什么，由谁运营',
  loadFailed: '“关于”内容加载失败：{error}',
  intro: '是一个兼容 OpenAI 接口的大语言模型网关',
  builtOn: '，基于 OneRelay 构建',
  introRest: '。应用只需使用一个接口地址和一个 API 密钥，网关会把每个请求转发给上游服务商（OpenAI、Azure、Anthropic、Gemini 等），同时执行额度限制、计费并记录每一次调用。',
  compat: '其管理 API 与 One API 兼容，现有的脚本、客户端和看板均可继续使用。',
  hintBefore: '管理员可以在',
  hintPath: '设置 → 其他设置',
  hintAfter: '中替换此内容（支持 Markdown、HTML，或填写一个 URL 以显示该页面）。',
}
export default messages
