import type { Transporter } from 'nodemailer'
import type { SmtpMailTarget } from '../config/urls.ts'
import { DEFAULT_FROM, formatAddress, type Mailer, type MailMessage } from './mail.ts'

/**
 * SMTP through nodemailer, imported lazily so servers that log mails never load it.
 * `smtps://` is TLS from the first byte (port 465); `smtp://` upgrades with STARTTLS when the
 * server offers it, and `?requireTLS=true` refuses to send otherwise.
 */
export async function createSmtpMailer(target: SmtpMailTarget): Promise<Mailer> {
  const { default: nodemailer } = await import('nodemailer')
  const transport: Transporter = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: target.secure,
    requireTLS: target.requireTLS,
    // NB: credentials from the mail URL; never logged (the config printer masks them).
    auth: target.user ? { user: target.user, pass: target.pass } : undefined,
    ...(target.authMethod ? { authMethod: target.authMethod } : {}),
    ...(target.localName ? { name: target.localName } : {}),
    pool: true,
    maxConnections: 2,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  })
  const from = target.from ?? DEFAULT_FROM
  return {
    name: 'smtp',
    async send(message: MailMessage) {
      await transport.sendMail({
        from: formatAddress(message.from ?? from),
        to: message.to.map(formatAddress),
        subject: message.subject,
        html: message.html,
        text: message.text,
      })
    },
    async close() {
      transport.close()
    },
  } satisfies Mailer
}
