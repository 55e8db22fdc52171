import type { Messages } from '../../schema'

/** 简体中文：token */
const messages: Messages['token'] = {
}
export default messages
