import { readFileSync } from 'node:fs'
import { importPKCS8, SignJWT } from 'jose'
import { StartupError } from '../config/errors.ts'
import type { FcmPushTarget } from '../config/push-url.ts'
import type { Logger } from '../log.ts'
import { retryDelay, sleep, type DevicePushEngine, type PushDevice, type PushMessage, type PushResult } from './push.ts'

/**
 * Firebase Cloud Messaging, HTTP v1, authorised by a service account:
 * - OAuth2 JWT bearer grant (RFC 7523): an RS256 assertion (`iss` = the account's email, `scope`
 *   firebase.messaging, `aud` = its `token_uri`, an hour long, `kid` = its private key id) posted
 *   to `token_uri`; the access token is reused until a minute before it expires;
 * - `POST {endpoint}/v1/projects/{project}/messages:send` with `{message: {token, notification,
 *   data, android}}` (`data` values must be strings: others are sent as JSON text);
 * - 404 `NOT_FOUND` or the `UNREGISTERED` error code deactivate the token; 429 and 5xx are retried
 *   here with backoff (honouring `Retry-After`), then left to the job; a 401 renews the access token once.
 */
export const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const RETRIES = 3
const TIMEOUT_MS = 10_000

interface ServiceAccount {
  project_id: string
  private_key: string
  private_key_id?: string
  client_email: string
  token_uri: string
}

export interface FcmOptions {
  log?: Pick<Logger, 'warn' | 'error'>
  now?: () => number
}

function readAccount(file: string): ServiceAccount {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new StartupError(`push: fcm: cannot read the service account file ${file} (${code ?? 'not JSON'})`)
  }
  const a = raw as Partial<ServiceAccount>
  for (const k of ['project_id', 'private_key', 'client_email', 'token_uri'] as const) {
    if (typeof a[k] !== 'string' || !a[k]) throw new StartupError(`push: fcm: the service account file ${file} has no ${k}`)
  }
  return a as ServiceAccount
}

/** The FCM v1 `message` for one device. */
export function fcmMessage(token: string, message: PushMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { token }
  const n = message.notification
  if (n && (n.title || n.body)) out.notification = { ...(n.title ? { title: n.title } : {}), ...(n.body ? { body: n.body } : {}) }
  if (message.data && Object.keys(message.data).length) {
    out.data = Object.fromEntries(Object.entries(message.data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
  }
  const android: Record<string, unknown> = { priority: out.notification ? 'high' : 'normal' }
  if (message.ttl !== undefined) android.ttl = `${message.ttl}s`
  if (message.collapseId) android.collapse_key = message.collapseId
  const an: Record<string, unknown> = {}
  if (message.sound) an.sound = message.sound
  if (message.badge !== undefined) an.notification_count = message.badge
  if (Object.keys(an).length && out.notification) android.notification = an
  out.android = android
  return out
}

/** The `errorCode` of a Google error body's FcmError detail, else its `status`. */
function errorCode(body: unknown): string | undefined {
  const e = (body as { error?: { status?: unknown; details?: unknown } } | null)?.error
  if (!e) return undefined
  if (Array.isArray(e.details)) {
    for (const d of e.details as { errorCode?: unknown }[]) if (typeof d?.errorCode === 'string') return d.errorCode
  }
  return typeof e.status === 'string' ? e.status : undefined
}

export async function fcmPush(target: FcmPushTarget, opts: FcmOptions = {}): Promise<DevicePushEngine> {
  const now = opts.now ?? Date.now
  const account = readAccount(target.credentialsFile)
  const key = await importPKCS8(account.private_key, 'RS256').catch(() => {
    throw new StartupError(`push: fcm: the private_key of ${target.credentialsFile} is not an RSA PKCS#8 key`)
  })
  const project = target.project ?? account.project_id
  const sendUrl = `${target.endpoint}/v1/projects/${encodeURIComponent(project)}/messages:send`
  let access: { token: string; until: number } | undefined
  let pending: Promise<string> | undefined

  const grant = async (): Promise<string> => {
    const iat = Math.floor(now() / 1000)
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(account.private_key_id ? { kid: account.private_key_id } : {}) })
      .setIssuer(account.client_email)
      .setAudience(account.token_uri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(key)
    const res = await fetch(account.token_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
    const body = (await res.json().catch(() => null)) as { access_token?: unknown; expires_in?: unknown; error?: unknown } | null
    if (!res.ok || typeof body?.access_token !== 'string') {
      throw new Error(`fcm: token grant refused (HTTP ${res.status}${typeof body?.error === 'string' ? ` ${body.error}` : ''})`)
    }
    const life = typeof body.expires_in === 'number' ? body.expires_in : 3600
    access = { token: body.access_token, until: now() + Math.max(0, life - 60) * 1000 }
    return access.token
  }
  const accessToken = (renew = false): Promise<string> => {
    if (!renew && access && now() < access.until) return Promise.resolve(access.token)
    // One grant at a time: a hundred sends starting together share it.
    pending ??= grant().finally(() => (pending = undefined))
    return pending
  }

  return {
    kind: 'device',
    name: 'fcm',
    platforms: ['android'],
    async send(device: PushDevice, message: PushMessage): Promise<PushResult> {
      const body = JSON.stringify({ message: fcmMessage(device.token, message) })
      let renewed = false
      for (let attempt = 1; ; attempt++) {
        let status: number
        let reply: unknown
        let retryAfter: number | undefined
        try {
          const res = await fetch(sendUrl, {
            method: 'POST',
            headers: { authorization: `Bearer ${await accessToken()}`, 'content-type': 'application/json; charset=utf-8' },
            body,
            redirect: 'error',
            signal: AbortSignal.timeout(TIMEOUT_MS),
          })
          status = res.status
          const ra = res.headers.get('retry-after')
          if (ra && /^\d+$/.test(ra)) retryAfter = Number(ra)
          reply = await res.json().catch(() => null)
        } catch (err) {
          if (attempt > RETRIES) return { outcome: 'retry', reason: (err as Error).message.slice(0, 200) }
          await sleep(retryDelay(attempt))
          continue
        }
        if (status === 200) return { outcome: 'sent' }
        const code = errorCode(reply) ?? `HTTP ${status}`
        if (status === 404 || code === 'UNREGISTERED' || code === 'NOT_FOUND') return { outcome: 'invalid', reason: code }
        if (status === 401 && !renewed) {
          renewed = true
          await accessToken(true).catch(() => undefined)
          continue
        }
        if (status === 429 || status >= 500) {
          if (attempt > RETRIES) return { outcome: 'retry', reason: code }
          await sleep(retryDelay(attempt, retryAfter))
          continue
        }
        if (status === 401 || status === 403) opts.log?.error({ code, project }, 'push: fcm refuses the service account: check its roles and the project')
        return { outcome: 'failed', reason: code }
      }
    },
    async close() {},
  }
}
