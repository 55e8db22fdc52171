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
  plansTitle: '充值套餐',
  plansHint: '在商店购买套餐后，把收到的兑换码在这里兑换。',
  planQuota: '额度',
  buyPlan: '购买',
  bonusTitle: '{name}：充值额外赠送 {bonus}',
  bonusTitleUnnamed: '充值优惠期：额外赠送 {bonus}',
  bonusUntil: '在 {time} 之前兑换的兑换码按面值的 {ratio} 倍到账。',
  rebate: '通过你的邀请链接邀请好友：他们每次兑换充值，你都将获得 {share} 的返利。',
  plansError: '无法加载充值套餐：{error}',
}
export default messages
