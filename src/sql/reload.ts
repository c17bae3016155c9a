import type { PlinthConfig } from '../config/schema.ts'
import { maskUrl } from '../config/urls.ts'
import type { Logger } from '../log.ts'
import { writeSwitchedPrimary } from './cluster.ts'
import { sameUrl, type SqlRouter } from './router.ts'
import type { SqlEngine, SqlRole } from './sql.ts'
import { isReplicating } from './switch.ts'

/** How long a removed instance's engine stays open for the statements already running on it. */
const CLOSE_AFTER_MS = 10_000

export interface SqlReloadOptions {
  /** Opens an instance for this router (cluster.ts `instanceOpener`). */
  open(url: string, role: SqlRole, check: boolean): Promise<SqlEngine>
  log: Logger
  /** The data folder, where a switch of the primary is recorded (cluster.ts). */
  dir: string
  /**
   * Whether this node routes reads with read-your-writes (it started with replicas or a DR
   * instance). A node that did not cannot start sending reads to replicas live: its clients'
   * writes are not tracked, so they could read a replica that has not applied them.
   */
  routing: boolean
}

/**
 * Applies a reloaded config's `db`, `dbReplicas` and `dbDr` to a running router (SIGHUP):
 * - `db` changed to another URL: the same as `plinth db switch-primary URL` on this node (the
 *   instance is opened first if it was not configured; one that still replicates is refused);
 * - replicas and the DR instance added are opened and probed (reads once measured), removed ones
 *   get no more work and are closed a little later, when their running statements are done.
 * Returns the settings that changed and were applied; errors are logged, never thrown: the
 * running settings stay.
 */
export async function reloadSqlInstances(router: SqlRouter, prev: Readonly<PlinthConfig>, next: Readonly<PlinthConfig>, opts: SqlReloadOptions): Promise<string[]> {
  const applied: string[] = []
  const { log } = opts
  const known = (url: string) => router.instances().find((m) => m.role !== 'retired' && sameUrl(m.url, url))
  if (!sameUrl(prev.db, next.db)) {
    try {
      let target = known(next.db)
      if (!target) {
        const engine = await opts.open(next.db, 'dr', true)
        router.addInstance({ engine, url: next.db }, 'dr')
        target = known(next.db)!
      }
      if (target.role !== 'primary') {
        if (await isReplicating(target.engine)) throw new Error('it is still replicating: promote it first (pg_ctl promote; STOP SLAVE; RESET SLAVE ALL)')
        router.switchPrimary(target.url)
        writeSwitchedPrimary(opts.dir, target.url)
      }
      applied.push('db')
      log.warn({ url: maskUrl(next.db) }, 'db: writes now go to a new primary (config reload)')
    } catch (err) {
      log.error({ url: maskUrl(next.db), err: (err as Error).message }, 'config reload: db: cannot switch the primary; writes stay where they were')
    }
  }
  const retire = (url: string) => {
    const gone = router.removeInstance(url)
    if (gone) setTimeout(() => void gone.engine.close().catch(() => undefined), CLOSE_AFTER_MS).unref()
  }
  const sync = async (key: 'dbReplicas' | 'dbDr', role: 'replica' | 'dr', wanted: string[], had: string[]) => {
    if (wanted.length === had.length && wanted.every((u, i) => sameUrl(u, had[i]!))) return
    const adds = wanted.filter((u) => !had.some((h) => sameUrl(h, u)) && !known(u))
    if (adds.length && !opts.routing) {
      log.warn({ setting: key }, `config reload: ${key}: this node started without replicas or a DR instance; adding them takes a restart`)
      return
    }
    for (const url of had) if (!wanted.some((u) => sameUrl(u, url)) && known(url)?.role === role) retire(url)
    for (const url of adds) {
      try {
        router.addInstance({ engine: await opts.open(url, role, false), url }, role)
      } catch (err) {
        log.error({ url: maskUrl(url), err: (err as Error).message }, `config reload: ${key}: cannot open an instance`)
      }
    }
    applied.push(key)
  }
  await sync('dbReplicas', 'replica', next.dbReplicas, prev.dbReplicas)
  await sync('dbDr', 'dr', next.dbDr ? [next.dbDr] : [], prev.dbDr ? [prev.dbDr] : [])
  return applied
}
