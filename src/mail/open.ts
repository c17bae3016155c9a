import { parseMailUrl } from '../config/urls.ts'
import type { Logger } from '../log.ts'
import { createLogMailer } from './log.ts'
import type { Mailer } from './mail.ts'

/** Opens the mail engine the `mail` config URL names (validated again here, so tests can pass a raw URL). */
export async function openMailer(url: string, log: Pick<Logger, 'info'>): Promise<Mailer> {
  const target = parseMailUrl(url, 'mail')
  if (target.engine === 'log') return createLogMailer(log, target.from)
  return (await import('./smtp.ts')).createSmtpMailer(target)
}
