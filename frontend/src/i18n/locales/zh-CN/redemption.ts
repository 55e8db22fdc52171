import type { Messages } from '../../schema'

/** 简体中文：redemption */
const messages: Messages['redemption'] = {
}
export default messages
