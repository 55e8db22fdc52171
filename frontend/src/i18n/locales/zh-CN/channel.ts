import type { Messages } from '../../schema'

/** 简体中文：channel */
const messages: Messages['channel'] = {
}
export default messages
