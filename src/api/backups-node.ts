import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { StartupError } from '../config/errors.ts'
import type { Core } from '../core.ts'
import { checkCron } from '../jobs/cron.ts'
import { installBackupsApi } from './backups.ts'
import { Backups } from '../backups/backups.ts'
import { announce } from '../backups/presence.ts'

/** PocketBase's id for its scheduled backups' cron job. */
export const BACKUPS_CRON_ID = '__pbBackups__'

export interface BackupsNode {
  readonly backups: Backups
  /** `/api/health`'s `canBackup`. */
  readonly canBackup: boolean
  /** Stops announcing this node. */
  stop(): Promise<void>
}

/**
 * Backups on a serving node: the `/api/backups` routes (api/backups.ts), the `backups.cron`
 * schedule with `backups.cronMaxKeep` retention (over the jobs' cron: once per tick across the
 * workers), and this node's presence, which restores elsewhere look for before they start.
 */
export async function installBackups(http: FastifyInstance, core: Core): Promise<BackupsNode> {
  const { config, log } = core
  const nodeId = randomUUID()
  const backups = new Backups({
    sql: () => core.sql.writer(),
    files: core.files,
    bus: core.bus,
    dir: config.dir,
    nodeId,
    log,
    afterRestore: () => core.collections.reload(),
  })
  installBackupsApi(http, { backups, registry: core.collections, db: () => core.sql.writer().db, log })
  if (config.backups.cron) {
    try {
      checkCron('backups', config.backups.cron)
    } catch (err) {
      throw new StartupError(`config: backups.cron: ${(err as Error).message}`)
    }
    core.jobs.cron(BACKUPS_CRON_ID, config.backups.cron, () => backups.scheduled(config.backups.cronMaxKeep))
  }
  let unannounce: () => Promise<void> = async () => {}
  try {
    unannounce = await announce(core.bus, config.dir, nodeId)
  } catch (err) {
    log.warn({ err }, 'backups: could not announce this node on the bus; a restore elsewhere will not see it')
  }
  return {
    backups,
    get canBackup() {
      return backups.canBackup
    },
    stop: () => unannounce(),
  }
}
