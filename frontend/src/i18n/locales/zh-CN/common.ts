import type { Messages } from '../../schema'

/** 简体中文：common */
const messages: Messages['common'] = {
  language: '语言',
  actions: {
    cancel: '取消',
    save: '保存',
    search: '搜索',
    refresh: '刷新',
    retry: '重试',
    tryAgain: '重试',
    copy: '复制',
    delete: '删除',
    discard: '放弃修改',
    clearSearch: '清除搜索',
    previous: '上一页',
    next: '下一页',
  },
  list: {
    matching: '共 {count} 个{noun}匹配“{keyword}”',
    first100: '（仅显示前 100 个）',
    page: '第 {page} 页',
  },
  status: {
    token: { enabled: '已启用', disabled: '已禁用', expired: '已过期', exhausted: '已耗尽' },
    user: { enabled: '已启用', disabled: '已禁用', deleted: '已注销' },
    redemption: { unused: '未使用', disabled: '已禁用', used: '已使用' },
    role: { guest: '访客', user: '普通用户', admin: '管理员', root: '超级管理员' },
    unknown: '未知（{value}）',
  },
  clipboard: {
    copied: '已复制到剪贴板',
    failed: '无法自动复制，请手动选中并复制：{text}',
  },
  errors: {
    network: '无法连接服务器，请检查网络后重试。',
    session: '登录已过期，请重新登录。',
    http: '服务器返回 HTTP {status} {statusText}',
    failed: '请求失败（HTTP {status}）',
    generic: '出错了',
  },
  time: {
    justNow: '刚刚',
    minutesAgo: '{n} 分钟前',
    hoursAgo: '{n} 小时前',
    daysAgo: '{n} 天前',
  },
  quota: {
    points: '点',
  },
  units: {
    request: '{n} 次请求 | {n} 次请求',
    model: '{n} 个模型 | {n} 个模型',
    log: '{n} 条日志 | {n} 条日志',
  },
  channelTypes: {
    type: '类型 {id}',
    routed: 'OneRelay 已支持转发',
    notRouted: '暂不支持转发（仅保存）',
    baseUrlDefault: '留空则使用默认地址 {url}。',
    noneListed: '服务器未返回任何渠道类型',
  },
  theme: {
    toLight: '切换到浅色主题',
    toDark: '切换到深色主题',
    light: '浅色主题',
    dark: '深色主题',
  },
  footer: {
    tagline: 'OpenAI 兼容的大模型网关',
  },
  options: {
    notJson: '不是有效的 JSON：{reason}',
    syntaxError: '语法错误',
    notObject: '必须是 JSON 对象，例如 {example}',
    entryNumber: '“{key}”的值必须是数字',
    entryNegative: '“{key}”的值不能为负数',
    required: '请填写{label}',
    number: '{label}必须是数字',
    whole: '{label}必须是整数',
    min: '{label}不能小于 {min}',
    max: '{label}不能大于 {max}',
  },
}
export default messages
