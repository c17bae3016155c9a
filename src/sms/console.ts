import type { Logger } from '../log.ts'
import { smsText, type SmsMessage, type SmsSender } from './sms.ts'

/**
 * The embedded default: the message goes to the log instead of a phone.
 *
 * NB: this prints the code on purpose: it is the development default, and a newcomer signs in by
 * phone with the code read from the log. Production sets `PLINTH_SMS` to a provider, whose
 * engines never log a code.
 */
export function consoleSms(log: Pick<Logger, 'info'>): SmsSender {
  return {
    name: 'console',
    async send(message: SmsMessage) {
      log.info({ sms: { to: message.to, code: message.code, text: smsText(message) } }, `sms (console engine, not sent) to ${message.to}: code ${message.code}`)
    },
    async close() {},
  }
}
