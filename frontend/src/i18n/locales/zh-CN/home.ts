import type { Messages } from '../../schema'

/** 简体中文：home */
const messages: Messages['home'] = {
  notice: '公告',
  loadFailed: '首页内容加载失败：{error}',
  frameTitle: '首页',
  landing: {
    eyebrow: 'OpenAI 兼容的大模型网关',
    lead: '一个 OpenAI 兼容接口，接入所有模型服务商',
    sub: '你的应用只需一个密钥和一个 Base URL。{name} 会把每个请求转发到合适的上游渠道，按额度计量用量，并记录每一次调用。',
    openDashboard: '打开仪表盘',
    manageKeys: '管理 API 密钥',
    logIn: '登录',
    signUp: '注册',
    pointDropInBefore: '直接替换',
    pointDropInAfter: '、Embeddings、图像和语音接口',
    pointStreaming: '流式输出、工具调用和视觉输入原样透传',
    featuresLabel: '功能',
    features: {
      providers: {
        title: '所有服务商，一个接口',
        text: 'OpenAI、Azure、Anthropic、Gemini、DeepSeek、通义千问等均以 OpenAI 格式提供，现有 SDK 和工具无需修改即可使用。',
      },
      billing: {
        title: '额度与计费',
        text: '按用户管理余额，按令牌限制额度，支持模型倍率、分组倍率、兑换码和邀请奖励。',
      },
      channels: {
        title: '渠道与自动重试',
        text: '通过优先级和权重分摊负载；请求失败时自动换渠道重试，异常渠道会被自动禁用。',
      },
      logs: {
        title: '日志与用量',
        text: '每个请求都会记录模型、Token 数、费用和耗时，仪表盘按天和模型展示用量。',
      },
    },
  },
  quickStart: {
    title: '快速开始',
    subtitle: '将任意 OpenAI SDK 或工具指向此 Base URL 即可。',
    baseUrl: 'Base URL',
    baseUrlCopied: 'Base URL 已复制',
    copyBaseUrl: '复制 Base URL',
    snippetCopied: '代码已复制',
    copySnippet: '复制代码',
    keyComment: '在「令牌」页面创建的密钥',
  },
}
export default messages
