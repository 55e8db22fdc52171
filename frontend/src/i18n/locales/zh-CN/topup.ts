import type { Messages } from '../../schema'

/** 简体中文：topup */
const messages: Messages['topup'] = {
}
export default messages
