import type { Messages } from '../../schema'

/** 简体中文：dashboard */
const messages: Messages['dashboard'] = {
}
export default messages
