import type { TwilioSmsTarget } from '../config/sms-url.ts'
import { callProvider, field, SmsError, smsText, type SmsMessage, type SmsSender } from './sms.ts'

/**
 * Twilio's Messages API: `POST {endpoint}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP
 * basic auth (AccountSid:AuthToken), a form body `To`, `From` (or `MessagingServiceSid`), `Body`.
 * Success is HTTP 201 with a message `sid` (`SM...`) in a state other than failed/undelivered;
 * an error reply (`{code, message}`), or anything else, is an error.
 */
export function twilioSms(target: TwilioSmsTarget): SmsSender {
  const authorization = `Basic ${Buffer.from(`${target.accountSid}:${target.authToken}`).toString('base64')}`
  const url = `${target.endpoint}/2010-04-01/Accounts/${encodeURIComponent(target.accountSid)}/Messages.json`
  return {
    name: 'twilio',
    async send(message: SmsMessage) {
      const form = new URLSearchParams({ To: message.to, Body: smsText(message) })
      if (target.from) form.set('From', target.from)
      if (target.service) form.set('MessagingServiceSid', target.service)
      const { status, body } = await callProvider('twilio', url, {
        method: 'POST',
        headers: { authorization, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      })
      if (status >= 400 || status < 200) {
        throw new SmsError('twilio', `refused (HTTP ${status}): ${String(field(body, 'code') ?? '')} ${String(field(body, 'message') ?? '').slice(0, 200)}`)
      }
      const sid = field(body, 'sid')
      const state = field(body, 'status')
      if (status !== 201 || typeof sid !== 'string' || !sid.startsWith('SM') || typeof state !== 'string') {
        throw new SmsError('twilio', `malformed reply (HTTP ${status}): no message sid`)
      }
      if (state === 'failed' || state === 'undelivered') throw new SmsError('twilio', `message ${sid} ${state}`)
    },
    async close() {},
  }
}
