import type { Logger } from '../log.ts'
import { PLATFORMS, type DevicePushEngine } from './push.ts'

/**
 * The embedded default: a push is written to the log instead of a device, so an app can be built
 * against Plinth before it has APNs or FCM keys. The token is shortened (a full token in the log
 * would let anyone reading it push to the device).
 */
export function logPush(log: Pick<Logger, 'info'>): DevicePushEngine {
  return {
    kind: 'device',
    name: 'log',
    platforms: PLATFORMS,
    async send(device, message) {
      log.info(
        { push: { device: device.id, platform: device.platform, token: `${device.token.slice(0, 8)}…`, ...message } },
        `push (log engine, not sent) to ${device.platform} device ${device.id}: ${message.notification?.title ?? ''} ${message.notification?.body ?? ''}`.trim(),
      )
      return { outcome: 'sent' }
    },
    async close() {},
  }
}
