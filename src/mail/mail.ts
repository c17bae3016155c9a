/**
 * The mail port: one interface, engines beside it (`log.ts` embedded default, `smtp.ts`).
 * Picked by the `mail` config URL (`PLINTH_MAIL`): `log://` (default) or `smtp://` / `smtps://`.
 */
import { parseAddress, type MailAddress } from '../config/urls.ts'

// Parsed with the configuration (a mail URL's `?from=`); re-exported for the engines and callers.
export { parseAddress, type MailAddress }

export interface MailMessage {
  /** Defaults to the engine's sender (`?from=` on the mail URL). */
  from?: MailAddress
  to: MailAddress[]
  subject: string
  html: string
  /** A plain-text alternative; engines send it beside the HTML when given. */
  text?: string
}

export interface Mailer {
  /** For logs only: never branch on it. */
  readonly name: 'log' | 'smtp'
  /** Resolves once the message is accepted for delivery (by the SMTP server, or written to the log). */
  send(message: MailMessage): Promise<void>
  close(): Promise<void>
}

/** The sender used when neither the message nor the mail URL names one (PocketBase's default). */
export const DEFAULT_FROM: MailAddress = { address: 'support@example.com', name: 'Support' }

export function formatAddress(a: MailAddress): string {
  return a.name ? `"${a.name.replace(/["\\\r\n]/g, '')}" <${a.address}>` : a.address
}
