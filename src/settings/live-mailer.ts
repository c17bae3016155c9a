import type { Logger } from '../log.ts'
import type { MailAddress, Mailer, MailMessage } from '../mail/mail.ts'
import { createSmtpMailer } from '../mail/smtp.ts'
import type { Settings } from './settings-model.ts'

/**
 * The mailer in force, following the settings: the sender (`meta.senderName`/`senderAddress`) of
 * every mail that names none, and, unless the `mail` config fixes it, the SMTP server
 * (`smtp.*`: enabled switches from the configured engine, the log by default, to SMTP). A replaced
 * SMTP pool is closed a while later, so sends in flight on it finish.
 */
export class LiveMailer implements Mailer {
  #engine: Mailer
  #own: Mailer | undefined
  #ready: Promise<void> = Promise.resolve()
  #key = ''
  #from: MailAddress | undefined

  constructor(
    private readonly base: Mailer,
    private readonly log: Pick<Logger, 'info' | 'error'>,
  ) {
    this.#engine = base
  }

  get name(): Mailer['name'] {
    return this.#engine.name
  }

  /** Takes the sender and, when `smtpFromSettings`, the SMTP server from `settings`. */
  apply(settings: Readonly<Settings>, smtpFromSettings: boolean): void {
    this.#from = { address: settings.meta.senderAddress, name: settings.meta.senderName }
    if (!smtpFromSettings) return
    const smtp = settings.smtp
    const key = JSON.stringify(smtp)
    if (key === this.#key) return
    this.#key = key
    const old = this.#own
    if (!smtp.enabled) {
      this.#own = undefined
      this.#engine = this.base
    } else {
      this.#ready = createSmtpMailer({
        engine: 'smtp', host: smtp.host, port: smtp.port, secure: smtp.tls, requireTLS: false,
        ...(smtp.username ? { user: smtp.username, pass: smtp.password } : {}),
      }).then(
        (mailer) => {
          this.#own = mailer
          this.#engine = mailer
          this.log.info({ host: smtp.host, port: smtp.port }, 'mail: using the SMTP server from the settings')
        },
        (err: unknown) => this.log.error({ err }, 'mail: the SMTP settings could not be applied'),
      )
    }
    if (old) setTimeout(() => void old.close(), 60_000).unref()
  }

  async send(message: MailMessage): Promise<void> {
    await this.#ready
    await this.#engine.send(message.from || !this.#from ? message : { ...message, from: this.#from })
  }

  /** Closes the SMTP pool made from the settings; the configured engine is the ports' to close. */
  async close(): Promise<void> {
    await this.#ready
    await this.#own?.close()
  }
}
