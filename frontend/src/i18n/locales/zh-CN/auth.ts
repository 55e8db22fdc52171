import type { Messages } from '../../schema'

/** 简体中文：auth */
const messages: Messages['auth'] = {
}
export default messages
