import type { Messages } from '../../schema'

/** 简体中文：user */
const messages: Messages['user'] = {
}
export default messages
