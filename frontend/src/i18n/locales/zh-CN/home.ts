import type { Messages } from '../../schema'

/** 简体中文：home */
const messages: Messages['home'] = {
}
export default messages
