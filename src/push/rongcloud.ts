import { createHash, randomBytes } from 'node:crypto'
import type { RongcloudPushTarget } from '../config/push-url.ts'
import { retryDelay, sleep, type PushMessage, type PushResult, type UserPushEngine } from './push.ts'

/**
 * RongCloud's server API, for apps that already ship its SDK: user tokens for the SDK to connect
 * with, pushes to user ids, and system messages. Every call carries `App-Key`, `Nonce`,
 * `Timestamp` (ms) and `Signature` = hex SHA-1 of appSecret + nonce + timestamp; the answer is
 * JSON whose `code` is 200 on success (else an error code: 1002 a missing parameter, 1004 a bad
 * signature, 1008 over the call rate...). `/user/getToken.json` and
 * `/message/system/publish.json` take form bodies; `/push.json` takes JSON.
 */
export class RongcloudError extends Error {
  constructor(
    readonly code: number | string,
    message: string,
  ) {
    super(`rongcloud: ${message}`)
    this.name = 'RongcloudError'
  }
}

/** RongCloud's signature for a call. */
export function rongcloudSignature(appSecret: string, nonce: string, timestamp: string): string {
  return createHash('sha1').update(appSecret + nonce + timestamp).digest('hex')
}

/** Codes worth another try: server error (1000), over the rate (1008), HTTP 429/5xx. */
const TRANSIENT = new Set<number | string>([1000, 1008, 'HTTP 429', 'HTTP 500', 'HTTP 502', 'HTTP 503', 'HTTP 504'])
const RETRIES = 3
const TIMEOUT_MS = 10_000

export interface SystemMessage {
  fromUserId: string
  toUserIds: readonly string[]
  /** `RC:TxtMsg`, or the app's own message type. */
  objectName: string
  content: Record<string, unknown>
  pushContent?: string
  pushData?: string
}

export interface RongcloudEngine extends UserPushEngine {
  /** A token for the SDK of `userId` (RongCloud makes the user on first call). */
  userToken(userId: string, name: string, portraitUri?: string): Promise<string>
  systemMessage(message: SystemMessage): Promise<void>
}

export function rongcloudPush(target: RongcloudPushTarget): RongcloudEngine {
  /** One call; resolves with the JSON body when `code` is 200, else throws a RongcloudError. */
  const call = async (path: string, body: URLSearchParams | Record<string, unknown>): Promise<Record<string, unknown>> => {
    const nonce = randomBytes(8).toString('hex')
    const timestamp = String(Date.now())
    const form = body instanceof URLSearchParams
    let res: Response
    let text: string
    try {
      res = await fetch(`${target.endpoint}${path}`, {
        method: 'POST',
        headers: {
          'App-Key': target.appKey,
          Nonce: nonce,
          Timestamp: timestamp,
          Signature: rongcloudSignature(target.appSecret, nonce, timestamp),
          'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
        },
        body: form ? body.toString() : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      text = await res.text()
    } catch (err) {
      throw new RongcloudError('network', `request failed: ${(err as Error).message}`)
    }
    let json: Record<string, unknown> | undefined
    try {
      json = JSON.parse(text) as Record<string, unknown>
    } catch {
      // below
    }
    const code = json?.code
    if (code === 200 && res.ok) return json!
    if (typeof code === 'number') throw new RongcloudError(code, `${path} refused: code ${code} ${String(json?.errorMessage ?? '').slice(0, 200)}`)
    throw new RongcloudError(`HTTP ${res.status}`, `${path} answered HTTP ${res.status} without a code`)
  }
  const withRetries = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        const code = err instanceof RongcloudError ? err.code : 'network'
        if (attempt > RETRIES || !(TRANSIENT.has(code) || code === 'network')) throw err
        await sleep(retryDelay(attempt))
      }
    }
  }
  return {
    kind: 'user',
    name: 'rongcloud',
    maxUsers: 1000,
    async sendToUsers(userIds, message: PushMessage): Promise<PushResult> {
      const n = message.notification ?? {}
      const extras = Object.fromEntries(Object.entries(message.data ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
      const ios: Record<string, unknown> = { extras }
      if (n.title) ios.title = n.title
      if (message.badge !== undefined) ios.badge = message.badge
      if (message.sound) ios.sound = message.sound
      if (message.collapseId) ios['apns-collapse-id'] = message.collapseId
      const body = {
        platform: ['ios', 'android'],
        audience: { userid: [...userIds], is_to_all: false },
        notification: { ...(n.title ? { title: n.title } : {}), alert: n.body ?? n.title ?? '', ios, android: { extras } },
      }
      try {
        await withRetries(() => call('/push.json', body))
        return { outcome: 'sent' }
      } catch (err) {
        const code = err instanceof RongcloudError ? err.code : 'network'
        return { outcome: TRANSIENT.has(code) || code === 'network' ? 'retry' : 'failed', reason: String(code) }
      }
    },
    async userToken(userId, name, portraitUri = '') {
      const json = await withRetries(() => call('/user/getToken.json', new URLSearchParams({ userId, name, portraitUri })))
      if (typeof json.token !== 'string') throw new RongcloudError('malformed', '/user/getToken.json answered no token')
      return json.token
    },
    async systemMessage(m) {
      const form = new URLSearchParams({ fromUserId: m.fromUserId, objectName: m.objectName, content: JSON.stringify(m.content) })
      for (const to of m.toUserIds) form.append('toUserId', to)
      if (m.pushContent) form.set('pushContent', m.pushContent)
      if (m.pushData) form.set('pushData', m.pushData)
      await withRetries(() => call('/message/system/publish.json', form))
    },
    async close() {},
  }
}
