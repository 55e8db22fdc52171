import type { Messages } from '../../schema'

/** 简体中文：common */
const messages: Messages['common'] = {
  language: '语言',
}
export default messages
