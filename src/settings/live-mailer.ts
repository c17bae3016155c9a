import type { Logger } from '../log.ts'
import type { MailAddress, Mailer, MailMessage } from '../mail/mail.ts'
import { createSmtpMailer } from '../mail/smtp.ts'
import type { Settings } from './settings-model.ts'

/**
 * The mailer in force, following the settings: the sender (`meta.senderName`/`senderAddress`) of
 * every mail that names none, and, unless the `mail` config fixes it, the SMTP server
 * (`smtp.*`: enabled switches from the configured engine, the log by default, to SMTP). A replaced
 * SMTP pool is closed once the sends in flight on it have finished.
 */
export class LiveMailer implements Mailer {
  #engine: Mailer
  #own: Mailer | undefined
  #ready: Promise<void> = Promise.resolve()
  #key = ''
  #from: MailAddress | undefined
  /** Sends in flight per SMTP pool made here, and the replaced pools waiting for theirs to end. */
  readonly #inFlight = new Map<Mailer, number>()
  readonly #retiring = new Set<Mailer>()

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
        ...(smtp.authMethod === 'PLAIN' || smtp.authMethod === 'LOGIN' ? { authMethod: smtp.authMethod } : {}),
        ...(smtp.localName ? { localName: smtp.localName } : {}),
      }).then(
        (mailer) => {
          this.#own = mailer
          this.#engine = mailer
          this.log.info({ host: smtp.host, port: smtp.port }, 'mail: using the SMTP server from the settings')
        },
        (err: unknown) => this.log.error({ err }, 'mail: the SMTP settings could not be applied'),
      )
    }
    if (old) this.#retire(old)
  }

  #retire(mailer: Mailer): void {
    if (this.#inFlight.get(mailer)) this.#retiring.add(mailer)
    else void mailer.close().catch(() => undefined)
  }

  async send(message: MailMessage): Promise<void> {
    await this.#ready
    const engine = this.#engine
    this.#inFlight.set(engine, (this.#inFlight.get(engine) ?? 0) + 1)
    try {
      await engine.send(message.from || !this.#from ? message : { ...message, from: this.#from })
    } finally {
      const left = (this.#inFlight.get(engine) ?? 1) - 1
      if (left > 0) this.#inFlight.set(engine, left)
      else {
        this.#inFlight.delete(engine)
        if (this.#retiring.delete(engine)) void engine.close().catch(() => undefined)
      }
    }
  }

  /** Closes the SMTP pools made from the settings; the configured engine is the ports' to close. */
  async close(): Promise<void> {
    await this.#ready
    await Promise.all([...this.#retiring].map((m) => m.close().catch(() => undefined)))
    this.#retiring.clear()
    await this.#own?.close()
  }
}
