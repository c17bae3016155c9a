import type { Bus } from '../bus/bus.ts'
import type { PlinthConfig } from '../config/schema.ts'
import { listenTarget, usableUrl } from '../config/listen.ts'
import type { Jobs } from '../jobs/jobs.ts'
import type { Logger } from '../log.ts'
import { RequestLogs } from '../logs/request-logs.ts'
import type { Mailer } from '../mail/mail.ts'
import type { SqlRouter } from '../sql/router.ts'
import { loadMasterKey } from '../security/keys/master-key.ts'
import { LiveMailer } from './live-mailer.ts'
import { SettingsStore } from './settings-store.ts'

/** The settings and what follows them on this node. */
export interface AdminParts {
  settings: SettingsStore
  /** The mailer every mail goes through (the `plinth.mail` job and test mails): follows `smtp` and `meta`. */
  mail: LiveMailer
  requestLogs: RequestLogs
  close(): Promise<void>
}

export interface OpenSettingsOptions {
  config: Readonly<PlinthConfig>
  sql: SqlRouter
  bus: Bus
  jobs: Jobs
  /** The configured mail engine (`mail` URL). */
  mail: Mailer
  log: Logger
  /** Follow changes made on other nodes (off for one-shot CLI commands). */
  follow: boolean
}

/** The system cron that applies `logs.maxDays` (PocketBase's `__pbLogsCleanup__`), daily. */
export const LOGS_CLEANUP_CRON = '__plinthLogsCleanup__'

/**
 * Opens the settings (`_params`), the request logs and the live mailer, wires the mailer and the
 * logs to follow the settings on this node, follows other nodes' changes over the bus, and defines
 * the logs' retention cron (so a `plinth worker` node runs it too).
 */
export async function openSettings(opts: OpenSettingsOptions): Promise<AdminParts> {
  const { config, sql, log } = opts
  const listening = usableUrl(listenTarget(config.http))
  const appUrl = (config.publicUrl || (config.https ? listening.replace(/^http:/, 'https:') : listening)).replace(/\/+$/, '')
  let master: Uint8Array | undefined
  const masterKey = () => (master ??= loadMasterKey(config.keys.masterKey, config.dir))
  const settings = await SettingsStore.open({ config, db: () => sql.writer().db, appUrl, log, masterKey })
  const requestLogs = await RequestLogs.open(config, sql.primaryHandle(), log)
  const mail = new LiveMailer(opts.mail, log)
  const smtpFromSettings = !settings.locked.has('smtp.enabled')
  const stopApplying = settings.onChange((s) => {
    mail.apply(s, smtpFromSettings)
    requestLogs.apply(s.logs)
  })
  let stopFollowing: () => Promise<void> = async () => {}
  try {
    if (opts.follow) stopFollowing = await settings.follow(opts.bus)
  } catch (err) {
    await requestLogs.close()
    throw err
  }
  opts.jobs.cron(LOGS_CLEANUP_CRON, '11 3 * * *', () => requestLogs.cleanup())
  return {
    settings,
    mail,
    requestLogs,
    async close() {
      stopApplying()
      await stopFollowing().catch(() => undefined)
      await requestLogs.close().catch(() => undefined)
      await mail.close().catch(() => undefined)
    },
  }
}
