import type { Messages } from '../../schema'

/** 简体中文：chat */
const messages: Messages['chat'] = {
}
export default messages
