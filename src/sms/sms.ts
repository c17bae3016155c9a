/**
 * The SMS port: one interface, engines beside it. Picked by the `sms` config URL (`PLINTH_SMS`):
 * `console://` (the default: the message goes to the log), `aliyun://`, `yuntongxun://`,
 * `tencent://`, `twilio://` (see `config/sms-url.ts` for each URL's parameters).
 *
 * Plinth sends one kind of SMS, a sign-in code, so a message is the code and its lifetime, not a
 * free text: the providers of mainland China only deliver approved templates, and each engine
 * fills its template (or, for Twilio and the console, a fixed sentence) from these fields.
 */

export interface SmsMessage {
  /** The recipient in E.164 (`+8613800138000`); each engine writes it the way its provider wants. */
  to: string
  /** The code, digits only. */
  code: string
  /** How long the code stays valid, in whole minutes (templates often say it). */
  minutes: number
}

export interface SmsSender {
  /** For logs only: never branch on it. */
  readonly name: 'console' | 'aliyun' | 'yuntongxun' | 'tencent' | 'twilio'
  /**
   * Resolves once the provider accepted the message; rejects with an `SmsError` when it refused,
   * answered something that is not its documented success, or could not be reached.
   */
  send(message: SmsMessage): Promise<void>
  close(): Promise<void>
}

/** A send that did not succeed. The message is safe to log (no secrets, no code). */
export class SmsError extends Error {
  constructor(
    readonly provider: SmsSender['name'],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`sms ${provider}: ${message}`, options)
    this.name = 'SmsError'
  }
}

/** The sentence engines without templates send. */
export function smsText(message: SmsMessage): string {
  return `Your verification code is ${message.code}. It expires in ${message.minutes} minutes.`
}

/** The number without `+`, and for mainland China (+86) the national number alone, as the Chinese providers want it. */
export function chinaStyleNumber(e164: string, international: (digits: string) => string): string {
  const digits = e164.replace(/^\+/, '')
  return digits.startsWith('86') ? digits.slice(2) : international(digits)
}

/** How long one call to a provider may take before it counts as failed (the job retries it). */
const TIMEOUT_MS = 10_000
/** The most of a reply read; providers answer a few hundred bytes. */
const MAX_REPLY = 64 * 1024

/**
 * One HTTP call to a provider: the reply's status and its body parsed as JSON. A network error,
 * a timeout, an over-long or non-JSON body is an `SmsError` (a malformed reply never counts as a
 * success); whether the JSON says success is the engine's to judge.
 */
export async function callProvider(provider: SmsSender['name'], url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
  let res: Response
  let text: string
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) })
    text = await res.text()
  } catch (err) {
    throw new SmsError(provider, `request failed: ${(err as Error).message}`, { cause: err })
  }
  if (text.length > MAX_REPLY) throw new SmsError(provider, `reply too long (HTTP ${res.status})`)
  try {
    return { status: res.status, body: JSON.parse(text) as unknown }
  } catch {
    throw new SmsError(provider, `reply is not JSON (HTTP ${res.status})`)
  }
}

/** `obj[key]` when `obj` is a plain object, else undefined (replies are untrusted JSON). */
export function field(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' && !Array.isArray(obj) ? (obj as Record<string, unknown>)[key] : undefined
}
