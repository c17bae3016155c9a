import { createHmac, randomUUID } from 'node:crypto'
import type { AliyunSmsTarget } from '../config/sms-url.ts'
import { callProvider, chinaStyleNumber, field, SmsError, type SmsMessage, type SmsSender } from './sms.ts'

/**
 * Alibaba Cloud SMS (`dysmsapi`, API version 2017-05-25), action SendSms, signed with the RPC
 * signature (version 1.0, HMAC-SHA1):
 * 1. every parameter but `Signature`, sorted by name, each name and value percent-encoded
 *    (`percentEncode`), joined as `name=value` with `&`: the canonicalized query;
 * 2. string to sign = `METHOD&` + percentEncode('/') + `&` + percentEncode(canonicalized query);
 * 3. Signature = Base64(HMAC-SHA1(key = AccessKeySecret + '&', string to sign)).
 * Success is `{"Code":"OK"}`; any other Code (or HTTP error, or non-JSON) is an error.
 */

/** RFC 3986 encoding as Alibaba Cloud wants it: only `A-Z a-z 0-9 - _ . ~` left as they are. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The RPC signature of `params` (Signature itself not among them) for `method`. */
export function rpcSignature(method: string, params: Record<string, string>, secret: string): { stringToSign: string; signature: string } {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&')
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canonical)}`
  const signature = createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64')
  return { stringToSign, signature }
}

/** `yyyy-MM-ddTHH:mm:ssZ` in UTC, as the Timestamp parameter wants. */
function timestamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function aliyunSms(target: AliyunSmsTarget, clock: () => Date = () => new Date()): SmsSender {
  return {
    name: 'aliyun',
    async send(message: SmsMessage) {
      const params: Record<string, string> = {
        AccessKeyId: target.accessKeyId,
        Action: 'SendSms',
        Format: 'JSON',
        PhoneNumbers: chinaStyleNumber(message.to, (d) => d),
        RegionId: target.region,
        SignName: target.sign,
        SignatureMethod: 'HMAC-SHA1',
        SignatureNonce: randomUUID(),
        SignatureVersion: '1.0',
        TemplateCode: target.template,
        TemplateParam: JSON.stringify({ [target.param]: message.code }),
        Timestamp: timestamp(clock()),
        Version: '2017-05-25',
      }
      const { signature } = rpcSignature('GET', params, target.accessKeySecret)
      const query = Object.entries({ Signature: signature, ...params })
        .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
        .join('&')
      const { status, body } = await callProvider('aliyun', `${target.endpoint}/?${query}`, { method: 'GET', headers: { accept: 'application/json' } })
      const code = field(body, 'Code')
      if (code === 'OK' && status === 200) return
      if (typeof code !== 'string') throw new SmsError('aliyun', `malformed reply (HTTP ${status}): no Code`)
      throw new SmsError('aliyun', `refused (HTTP ${status}): ${code} ${String(field(body, 'Message') ?? '').slice(0, 200)}`)
    },
    async close() {},
  }
}
