import type { Messages } from '../../schema'

/** 简体中文：shell */
const messages: Messages['shell'] = {
}
export default messages
