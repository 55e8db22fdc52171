import type { Messages } from '../../schema'

/** 简体中文：log */
const messages: Messages['log'] = {
}
export default messages
