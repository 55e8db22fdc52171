import type { Messages } from '../../schema'

/** 简体中文：topup */
const messages: Messages['topup'] = {
  /** The quota unit when USD display is off (never "tokens"). */
  unitPoints: '额度点数',
  title: '充值',
  description: '使用兑换码为你的账户充值额度。',
  loadError: '无法加载余额：{error}',
  balance: '当前余额',
  refreshBalance: '刷新余额',
  refresh: '刷新',
  used: '已用额度',
  requests: '请求次数',
  unit: '单位',
  redeemTitle: '兑换码充值',
  redeemHint: '兑换码中的额度会立即添加到你的余额。',
  redeemed: '已兑换 {amount}',
  redeemedDetail: '已兑换 {amount}，当前余额为 {balance}。',
  code: '兑换码',
  codePlaceholder: '请粘贴你的兑换码',
  redeem: '兑换',
  needCode: '需要兑换码？',
  buyHint: '先在商店购买额度，再回到这里兑换。',
  buy: '购买额度',
  askAdmin: '还没有兑换码？请向管理员索取。',
}
export default messages
