import { createHash } from 'node:crypto'
import type { YuntongxunSmsTarget } from '../config/sms-url.ts'
import { callProvider, chinaStyleNumber, field, SmsError, type SmsMessage, type SmsSender } from './sms.ts'

/**
 * Ronglian Yuntongxun (容联云通讯) template SMS, REST API version 2013-12-26:
 * `POST {endpoint}/2013-12-26/Accounts/{accountSid}/SMS/TemplateSMS?sig={SigParameter}` with
 * - SigParameter = uppercase hex MD5(accountSid + authToken + timestamp), the timestamp
 *   `yyyyMMddHHmmss` (Beijing time, the provider's clock);
 * - `Authorization: Base64(accountSid + ':' + timestamp)`;
 * - JSON body `{to, appId, templateId, datas: [code, minutes]}`.
 * Success is `{"statusCode":"000000"}`; any other statusCode (or non-JSON) is an error.
 */

/** `yyyyMMddHHmmss` in China Standard Time (UTC+8, no daylight saving). */
export function beijingTimestamp(now: Date): string {
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().replace(/\D/g, '').slice(0, 14)
}

export function yuntongxunSignature(accountSid: string, authToken: string, ts: string): { sig: string; authorization: string } {
  return {
    sig: createHash('md5').update(accountSid + authToken + ts).digest('hex').toUpperCase(),
    authorization: Buffer.from(`${accountSid}:${ts}`).toString('base64'),
  }
}

export function yuntongxunSms(target: YuntongxunSmsTarget, clock: () => Date = () => new Date()): SmsSender {
  return {
    name: 'yuntongxun',
    async send(message: SmsMessage) {
      const ts = beijingTimestamp(clock())
      const { sig, authorization } = yuntongxunSignature(target.accountSid, target.authToken, ts)
      const url = `${target.endpoint}/2013-12-26/Accounts/${encodeURIComponent(target.accountSid)}/SMS/TemplateSMS?sig=${sig}`
      const { status, body } = await callProvider('yuntongxun', url, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json;charset=utf-8', authorization },
        body: JSON.stringify({
          // Mainland numbers are national; others go as 00 + country code + number.
          to: chinaStyleNumber(message.to, (d) => `00${d}`),
          appId: target.appId,
          templateId: target.template,
          datas: [message.code, String(message.minutes)],
        }),
      })
      const code = field(body, 'statusCode')
      if (code === '000000' && status === 200) return
      if (typeof code !== 'string') throw new SmsError('yuntongxun', `malformed reply (HTTP ${status}): no statusCode`)
      throw new SmsError('yuntongxun', `refused (HTTP ${status}): ${code} ${String(field(body, 'statusMsg') ?? '').slice(0, 200)}`)
    },
    async close() {},
  }
}
