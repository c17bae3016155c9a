import type { PushTarget } from '../config/push-url.ts'
import type { Logger } from '../log.ts'
import { pushPort, type PushEngine, type PushPort } from './push.ts'

/**
 * Opens every engine of the `push` setting, importing each module only when it is listed. A key
 * file that cannot be read stops start-up (a StartupError naming it); engines already opened are
 * closed first.
 */
export async function openPush(target: PushTarget, log: Logger): Promise<PushPort> {
  const engines: PushEngine[] = []
  try {
    for (const t of target.engines) {
      switch (t.engine) {
        case 'log':
          engines.push((await import('./log.ts')).logPush(log))
          break
        case 'apns':
          engines.push(await (await import('./apns.ts')).apnsPush(t, { log }))
          break
        case 'fcm':
          engines.push(await (await import('./fcm.ts')).fcmPush(t, { log }))
          break
        case 'rongcloud':
          engines.push((await import('./rongcloud.ts')).rongcloudPush(t))
          break
      }
    }
  } catch (err) {
    await Promise.allSettled(engines.map((e) => e.close()))
    throw err
  }
  return pushPort(engines)
}
