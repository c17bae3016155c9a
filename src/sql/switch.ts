import { CompiledQuery } from 'kysely'
import type { Bus, Unsubscribe } from '../bus/bus.ts'
import { maskUrl } from '../config/urls.ts'
import type { Logger } from '../log.ts'
import { writeSwitchedPrimary } from './cluster.ts'
import type { SqlRouter } from './router.ts'
import type { SqlEngine } from './sql.ts'

/** The bus topic `plinth db switch-primary` publishes on; the message is the new primary's URL. */
export const PRIMARY_TOPIC = 'sql:primary'

/**
 * Makes this node follow `plinth db switch-primary`: on a message naming one of its configured
 * instances, writes go there from then on, and the choice is recorded in the data folder (cluster.ts)
 * so a restart keeps it. A URL this node does not know is logged and ignored.
 */
export function followPrimarySwitches(sql: SqlRouter, bus: Bus, dir: string, log: Logger): Promise<Unsubscribe> {
  return bus.subscribe(PRIMARY_TOPIC, (url) => {
    try {
      sql.switchPrimary(url)
      writeSwitchedPrimary(dir, url)
      log.warn({ url: maskUrl(url) }, 'db: writes now go to a new primary (plinth db switch-primary)')
    } catch (err) {
      log.error({ err, url: maskUrl(url) }, 'db: cannot switch the primary')
    }
  })
}

/** Whether `engine` follows a primary now (a replica not promoted); undefined when the engine cannot say. */
export async function isReplicating(engine: SqlEngine): Promise<boolean | undefined> {
  const repl = engine.dialect.replication
  if (!repl) return undefined
  const rows = await engine.query<{ replicating: unknown }>(CompiledQuery.raw(repl.isReplicating))
  const v = rows[0]?.replicating
  return v === true || v === 1 || v === '1' || v === 't'
}
