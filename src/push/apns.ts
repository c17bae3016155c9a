import { readFileSync } from 'node:fs'
import { connect, constants, type ClientHttp2Session } from 'node:http2'
import { randomUUID } from 'node:crypto'
import { importPKCS8, SignJWT } from 'jose'
import { StartupError } from '../config/errors.ts'
import type { ApnsPushTarget } from '../config/push-url.ts'
import type { Logger } from '../log.ts'
import { retryDelay, sleep, type DevicePushEngine, type PushDevice, type PushMessage, type PushResult } from './push.ts'

/**
 * Apple Push Notification service, HTTP/2 with token-based authentication:
 * - the provider token is an ES256 JWT (header `kid` = key id, claims `iss` = team id, `iat`)
 *   signed with the `.p8` key; Apple refuses one older than an hour and one renewed more often
 *   than every 20 minutes (`TooManyProviderTokenUpdates`), so one token is reused for 50 minutes;
 * - one HTTP/2 session carries every request (Apple asks providers to keep connections open rather
 *   than open one per push); a session that closes or errs is replaced on the next send;
 * - `POST /3/device/<token>` with `apns-topic`, `apns-push-type`, `apns-priority`,
 *   `apns-expiration`, `apns-collapse-id`; payloads over 4096 bytes are refused before sending;
 * - 410 and 400 `BadDeviceToken` deactivate the token; 429 and 5xx are retried here with backoff
 *   (`RETRIES` times), then left to the job's retry; 403 `ExpiredProviderToken` renews the JWT.
 */
export const APNS_MAX_PAYLOAD = 4096
/** Reuse a provider token this long (Apple: valid up to 60 min, renew at most every 20). */
export const APNS_TOKEN_REUSE_MS = 50 * 60_000
const RETRIES = 3
const REQUEST_TIMEOUT_MS = 10_000
const MAX_REPLY = 8 * 1024

export interface ApnsOptions {
  log?: Pick<Logger, 'warn' | 'error'>
  /** Clock for token reuse (tests). */
  now?: () => number
}

/** The APNs JSON payload for `message`, and its push type. */
export function apnsPayload(message: PushMessage): { payload: Record<string, unknown>; pushType: 'alert' | 'background' } {
  const aps: Record<string, unknown> = {}
  const n = message.notification
  const alert = n && (n.title || n.body) ? { ...(n.title ? { title: n.title } : {}), ...(n.body ? { body: n.body } : {}) } : undefined
  if (alert) aps.alert = alert
  if (message.badge !== undefined) aps.badge = message.badge
  if (message.sound) aps.sound = message.sound
  if (!alert) aps['content-available'] = 1
  const payload: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(message.data ?? {})) if (k !== 'aps') payload[k] = v
  payload.aps = aps
  return { payload, pushType: alert ? 'alert' : 'background' }
}

export async function apnsPush(target: ApnsPushTarget, opts: ApnsOptions = {}): Promise<DevicePushEngine> {
  const now = opts.now ?? Date.now
  let pem: string
  try {
    pem = readFileSync(target.keyFile, 'utf8')
  } catch (err) {
    throw new StartupError(`push: apns: cannot read the key file ${target.keyFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const key = await importPKCS8(pem, 'ES256').catch(() => {
    throw new StartupError(`push: apns: ${target.keyFile} is not an ES256 .p8 key (PKCS#8 PEM)`)
  })
  let ca: string | undefined
  if (target.caFile) {
    try {
      ca = readFileSync(target.caFile, 'utf8')
    } catch {
      throw new StartupError(`push: apns: cannot read the CA file ${target.caFile}`)
    }
  }
  let jwt: { token: string; at: number } | undefined
  const providerToken = async (renew = false): Promise<string> => {
    if (!jwt || renew || now() - jwt.at >= APNS_TOKEN_REUSE_MS) {
      const at = now()
      const token = await new SignJWT({ iss: target.teamId, iat: Math.floor(at / 1000) }).setProtectedHeader({ alg: 'ES256', kid: target.keyId }).sign(key)
      jwt = { token, at }
    }
    return jwt.token
  }

  let session: ClientHttp2Session | undefined
  const open = (): ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session
    const s = connect(target.endpoint, ca ? { ca } : {})
    s.on('error', (err) => opts.log?.warn({ err, endpoint: target.endpoint }, 'push: apns: connection error'))
    s.on('goaway', () => s.close())
    const drop = () => {
      if (session === s) session = undefined
    }
    s.on('close', drop)
    // NB: an idle session keeps no process alive; `close()` ends it for good.
    s.unref()
    session = s
    return s
  }

  /** One request: the status and the reason of an error body. */
  const post = (device: PushDevice, headers: Record<string, string>, body: string): Promise<{ status: number; reason?: string; retryAfter?: number }> =>
    new Promise((resolve, reject) => {
      let req
      try {
        req = open().request({ [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: `/3/device/${device.token}`, ...headers })
      } catch (err) {
        reject(err as Error)
        return
      }
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.close(constants.NGHTTP2_CANCEL))
      let status = 0
      let retryAfter: number | undefined
      req.on('response', (h) => {
        status = Number(h[constants.HTTP2_HEADER_STATUS])
        const ra = h['retry-after']
        if (typeof ra === 'string' && /^\d+$/.test(ra)) retryAfter = Number(ra)
      })
      let text = ''
      req.setEncoding('utf8')
      req.on('data', (c: string) => {
        if (text.length < MAX_REPLY) text += c
      })
      req.on('end', () => {
        let reason: string | undefined
        try {
          const r = (JSON.parse(text) as { reason?: unknown }).reason
          if (typeof r === 'string') reason = r.slice(0, 100)
        } catch {
          // An empty body (200) or a non-JSON one: no reason.
        }
        if (!status) reject(new Error('apns: no response status'))
        else resolve({ status, ...(reason ? { reason } : {}), ...(retryAfter !== undefined ? { retryAfter } : {}) })
      })
      req.on('error', reject)
      req.on('close', () => {
        if (!status) reject(new Error(`apns: stream closed (${req.rstCode ?? 0})`))
      })
      req.end(body)
    })

  return {
    kind: 'device',
    name: 'apns',
    platforms: ['ios'],
    async send(device: PushDevice, message: PushMessage): Promise<PushResult> {
      if (!/^[0-9a-fA-F]{16,200}$/.test(device.token)) return { outcome: 'invalid', reason: 'BadDeviceToken' }
      const { payload, pushType } = apnsPayload(message)
      const body = JSON.stringify(payload)
      if (Buffer.byteLength(body) > APNS_MAX_PAYLOAD) return { outcome: 'failed', reason: 'PayloadTooLarge' }
      const headers: Record<string, string> = {
        'apns-topic': device.topic || target.topic,
        'apns-push-type': pushType,
        'apns-priority': pushType === 'alert' ? '10' : '5',
        'apns-id': randomUUID(),
        'content-type': 'application/json',
      }
      if (message.ttl !== undefined) headers['apns-expiration'] = message.ttl === 0 ? '0' : String(Math.floor(now() / 1000) + message.ttl)
      if (message.collapseId) headers['apns-collapse-id'] = message.collapseId
      let renewed = false
      for (let attempt = 1; ; attempt++) {
        let res: { status: number; reason?: string; retryAfter?: number }
        try {
          res = await post(device, { ...headers, authorization: `bearer ${await providerToken()}` }, body)
        } catch (err) {
          if (attempt > RETRIES) return { outcome: 'retry', reason: (err as Error).message.slice(0, 200) }
          await sleep(retryDelay(attempt))
          continue
        }
        if (res.status === 200) return { outcome: 'sent' }
        const reason = res.reason ?? `HTTP ${res.status}`
        if (res.status === 410 || reason === 'BadDeviceToken' || reason === 'Unregistered') return { outcome: 'invalid', reason }
        if (res.status === 403 && (reason === 'ExpiredProviderToken' || reason === 'InvalidProviderToken') && !renewed) {
          renewed = true
          await providerToken(true)
          continue
        }
        if (res.status === 429 || res.status >= 500) {
          if (attempt > RETRIES) return { outcome: 'retry', reason }
          await sleep(retryDelay(attempt, res.retryAfter))
          continue
        }
        if (res.status === 403) opts.log?.error({ reason, keyId: target.keyId, teamId: target.teamId }, 'push: apns refuses the provider token: check the key id, team id and .p8 key')
        return { outcome: 'failed', reason }
      }
    },
    async close() {
      const s = session
      session = undefined
      if (s && !s.closed) await new Promise<void>((resolve) => s.close(() => resolve()))
    },
  }
}
