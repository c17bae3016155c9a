/**
 * The mail port: one interface, engines beside it (`log.ts` embedded default, `smtp.ts`).
 * Picked by the `mail` config URL (`PLINTH_MAIL`): `log://` (default) or `smtp://` / `smtps://`.
 */

export interface MailAddress {
  address: string
  name?: string
}

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

/** `"Name <a@b>"` or `a@b` -> an address; undefined when it does not look like one. */
export function parseAddress(value: string): MailAddress | undefined {
  const m = /^\s*(?:"?([^"<]*?)"?\s*<([^<>\s]+@[^<>\s]+)>|([^<>\s]+@[^<>\s]+))\s*$/.exec(value)
  if (!m) return undefined
  const address = (m[2] ?? m[3])!
  const name = m[1]?.trim()
  return name ? { address, name } : { address }
}

export function formatAddress(a: MailAddress): string {
  return a.name ? `"${a.name.replace(/["\\\r\n]/g, '')}" <${a.address}>` : a.address
}
