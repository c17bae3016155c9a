/**
 * The push port: engines that deliver one notification, picked by the `push` setting
 * (`PLINTH_PUSH`, a comma list: `log://`, `apns://`, `fcm://`, `rongcloud://`; see
 * `config/push-url.ts`). Two kinds of engine:
 *
 * - device engines (APNs, FCM, log) send to one registered device token; a device goes to the
 *   engine that serves its platform (APNs: ios, FCM: android), else to `log` when it is listed;
 * - user engines (RongCloud) send to the engine's own user ids, the device tokens being kept by
 *   the vendor's SDK in the app.
 *
 * Engines report an outcome per device and never throw for a provider's refusal: `invalid` means
 * the token is dead (the caller deactivates it), `failed` a refusal that a retry will not change,
 * `retry` a transient failure left after the engine's own retries (the job retries it later).
 */

export type Platform = 'ios' | 'android'
export const PLATFORMS: readonly Platform[] = ['ios', 'android']

/** What is pushed; the same for every device of one send. */
export interface PushMessage {
  notification?: { title?: string; body?: string }
  /** Custom keys: beside `aps` for APNs; FCM `data` (values as strings). */
  data?: Record<string, unknown>
  /** The app icon's badge number. */
  badge?: number
  /** A sound name (`default`). */
  sound?: string
  /** Later pushes with the same id replace earlier ones on the device (APNs collapse id, FCM collapse key). */
  collapseId?: string
  /** Seconds the provider keeps trying an offline device (0: now or never); absent: the provider's default. */
  ttl?: number
}

/** A registered device as engines see it. */
export interface PushDevice {
  id: string
  platform: Platform
  token: string
  /** The APNs topic (bundle id) this token belongs to; empty: the engine's default. */
  topic: string
  locale: string
}

export type PushOutcome = 'sent' | 'invalid' | 'failed' | 'retry'
export interface PushResult {
  outcome: PushOutcome
  /** The provider's reason (`BadDeviceToken`, `UNREGISTERED`, `HTTP 503`), for logs and the send's report. */
  reason?: string
}

export interface DevicePushEngine {
  readonly kind: 'device'
  /** For logs only. */
  readonly name: 'log' | 'apns' | 'fcm'
  /** Platforms it serves; `log` serves every platform no other listed engine does. */
  readonly platforms: readonly Platform[]
  send(device: PushDevice, message: PushMessage): Promise<PushResult>
  close(): Promise<void>
}

export interface UserPushEngine {
  readonly kind: 'user'
  readonly name: 'rongcloud'
  /** One push to up to `maxUsers` of the vendor's user ids (Plinth record ids). */
  readonly maxUsers: number
  sendToUsers(userIds: readonly string[], message: PushMessage): Promise<PushResult>
  close(): Promise<void>
}

export type PushEngine = DevicePushEngine | UserPushEngine

/** The opened port: every engine of the setting, and which one serves a platform. */
export interface PushPort {
  readonly engines: readonly PushEngine[]
  /** The device engine for `platform`, or undefined when none serves it. */
  forPlatform(platform: Platform): DevicePushEngine | undefined
  readonly userEngines: readonly UserPushEngine[]
  close(): Promise<void>
}

/** A push port over opened engines (in the setting's order). */
export function pushPort(engines: readonly PushEngine[]): PushPort {
  const device = engines.filter((e): e is DevicePushEngine => e.kind === 'device')
  const byPlatform = new Map<Platform, DevicePushEngine>()
  for (const p of PLATFORMS) {
    const own = device.find((e) => e.name !== 'log' && e.platforms.includes(p)) ?? device.find((e) => e.name === 'log')
    if (own) byPlatform.set(p, own)
  }
  return {
    engines,
    forPlatform: (p) => byPlatform.get(p),
    userEngines: engines.filter((e): e is UserPushEngine => e.kind === 'user'),
    async close() {
      await Promise.allSettled(engines.map((e) => e.close()))
    },
  }
}

/** The delay before in-engine retry `n` (1, 2, ...) of a 429 or 5xx: 250 ms doubling, with jitter, at most `capMs`. */
export function retryDelay(n: number, retryAfterSeconds?: number, capMs = 8000): number {
  if (retryAfterSeconds !== undefined && retryAfterSeconds >= 0) return Math.min(retryAfterSeconds * 1000, capMs)
  const base = Math.min(250 * 2 ** (n - 1), capMs)
  return Math.round(base / 2 + Math.random() * (base / 2))
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
