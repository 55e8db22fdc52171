import type { Messages } from '../../schema'

/** 简体中文：about */
const messages: Messages['about'] = {
}
export default messages
