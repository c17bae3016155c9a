import { createHash, createHmac } from 'node:crypto'
import type { TencentSmsTarget } from '../config/sms-url.ts'
import { callProvider, field, SmsError, type SmsMessage, type SmsSender } from './sms.ts'

/**
 * Tencent Cloud SMS, action SendSms (API version 2021-01-11), signed with TC3-HMAC-SHA256:
 * - canonical request = `POST\n/\n\n` + `content-type:...\nhost:...\n` + `\ncontent-type;host\n`
 *   + hex SHA-256 of the body;
 * - string to sign = `TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n` + hex
 *   SHA-256 of the canonical request (date is the timestamp's UTC day);
 * - key = HMAC chain from `'TC3' + SecretKey` over date, service, `tc3_request`; the signature is
 *   hex HMAC-SHA256(key, string to sign).
 * Success is a `Response.SendStatusSet` whose entries all have `Code: "Ok"`; `Response.Error`,
 * another Code, or anything malformed is an error.
 */
const CONTENT_TYPE = 'application/json; charset=utf-8'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s).digest()

/** The `Authorization` header for a JSON POST to `host` at `timestamp` (Unix seconds). */
export function tc3Authorization(a: { secretId: string; secretKey: string; service: string; host: string; timestamp: number; payload: string }): string {
  const date = new Date(a.timestamp * 1000).toISOString().slice(0, 10)
  const canonical = `POST\n/\n\ncontent-type:${CONTENT_TYPE}\nhost:${a.host}\n\ncontent-type;host\n${sha256(a.payload)}`
  const scope = `${date}/${a.service}/tc3_request`
  const toSign = `TC3-HMAC-SHA256\n${a.timestamp}\n${scope}\n${sha256(canonical)}`
  const key = hmac(hmac(hmac(`TC3${a.secretKey}`, date), a.service), 'tc3_request')
  const signature = createHmac('sha256', key).update(toSign).digest('hex')
  return `TC3-HMAC-SHA256 Credential=${a.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`
}

export function tencentSms(target: TencentSmsTarget, clock: () => Date = () => new Date()): SmsSender {
  const host = new URL(target.endpoint).host
  return {
    name: 'tencent',
    async send(message: SmsMessage) {
      const payload = JSON.stringify({
        PhoneNumberSet: [message.to],
        SmsSdkAppId: target.appId,
        TemplateId: target.template,
        TemplateParamSet: [message.code],
        ...(target.sign ? { SignName: target.sign } : {}),
      })
      const timestamp = Math.floor(clock().getTime() / 1000)
      const authorization = tc3Authorization({ secretId: target.secretId, secretKey: target.secretKey, service: 'sms', host, timestamp, payload })
      const { status, body } = await callProvider('tencent', `${target.endpoint}/`, {
        method: 'POST',
        headers: {
          authorization,
          'content-type': CONTENT_TYPE,
          host,
          'x-tc-action': 'SendSms',
          'x-tc-version': '2021-01-11',
          'x-tc-timestamp': String(timestamp),
          'x-tc-region': target.region,
        },
        body: payload,
      })
      const response = field(body, 'Response')
      const error = field(response, 'Error')
      if (error !== undefined) throw new SmsError('tencent', `refused (HTTP ${status}): ${String(field(error, 'Code'))} ${String(field(error, 'Message') ?? '').slice(0, 200)}`)
      const set = field(response, 'SendStatusSet')
      if (!Array.isArray(set) || set.length !== 1) throw new SmsError('tencent', `malformed reply (HTTP ${status}): no SendStatusSet`)
      const code = field(set[0], 'Code')
      if (code === 'Ok' && status === 200) return
      throw new SmsError('tencent', `refused (HTTP ${status}): ${String(code)} ${String(field(set[0], 'Message') ?? '').slice(0, 200)}`)
    },
    async close() {},
  }
}
