import type { Messages } from '../../schema'

/** 简体中文：setting */
const messages: Messages['setting'] = {
}
export default messages
