import type { Logger } from '../log.ts'
import { DEFAULT_FROM, formatAddress, type MailAddress, type Mailer, type MailMessage } from './mail.ts'

/**
 * The embedded default: mails go to the log instead of the network.
 *
 * NB: this prints the whole message, links and tokens included, on purpose: it is the development
 * default and a developer must be able to click the verification or reset link in the log.
 * Production deployments set `PLINTH_MAIL=smtp://...`, which logs no message bodies.
 */
export function createLogMailer(log: Pick<Logger, 'info'>, from: MailAddress = DEFAULT_FROM): Mailer {
  return {
    name: 'log',
    async send(message: MailMessage) {
      log.info(
        {
          mail: {
            from: formatAddress(message.from ?? from),
            to: message.to.map(formatAddress),
            subject: message.subject,
            text: message.text ?? message.html,
          },
        },
        `mail (log engine, not sent) to ${message.to.map((a) => a.address).join(', ')}: ${message.subject}`,
      )
    },
    async close() {},
  } satisfies Mailer
}
