import type { PlinthConfig } from './config/schema.ts'
import type { Logger } from './log.ts'
import type { RecordReadCache } from './records/read-cache.ts'
import { instanceOpener, type SqlMetricsSink } from './sql/cluster.ts'
import { reloadSqlInstances } from './sql/reload.ts'
import type { SqlRouter } from './sql/router.ts'

/**
 * What `plinth serve` applies on SIGHUP without a restart (the config file and environment are
 * read again; see cli/serve.ts):
 * - `logLevel`;
 * - `rateLimits` and `adminAllow` (api/security.ts);
 * - `cacheRecords` and `cacheRecordsTtl` (records/read-cache.ts);
 * - `db`, `dbReplicas`, `dbDr` (sql/reload.ts: a primary switch, replicas added or removed).
 * Every other setting that changed is logged, one line naming it, and keeps its running value
 * until the next restart (listening address, pools, ports' URLs, ...).
 */
export const LIVE_SETTINGS = ['logLevel', 'rateLimits', 'adminAllow', 'cacheRecords', 'cacheRecordsTtl', 'db', 'dbReplicas', 'dbDr'] as const

export interface ReloadParts {
  log: Logger
  sql: SqlRouter
  metrics: SqlMetricsSink
  readCache: RecordReadCache
  security: { reload(next: Readonly<PlinthConfig>): void }
}

/** A function that applies each reloaded config over the one applied before (starting with `initial`). */
export function liveReloader(initial: Readonly<PlinthConfig>, parts: ReloadParts): (next: Readonly<PlinthConfig>) => Promise<{ applied: string[]; restart: string[] }> {
  let current = initial
  // Instances were opened with the pool settings of start-up; those need a restart to change.
  const open = instanceOpener(initial, parts.metrics, () => parts.sql)
  const routing = parts.sql.replicated
  let queue = Promise.resolve()
  return (next) => {
    const run = async () => {
      const prev = current
      const changed = (Object.keys(next) as (keyof PlinthConfig)[]).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k]))
      const applied: string[] = []
      const restart: string[] = []
      const live = new Set<string>(LIVE_SETTINGS)
      for (const key of changed) {
        if (!live.has(key)) {
          restart.push(key)
          parts.log.warn({ setting: key }, `config reload: ${key} changed but cannot change while running; it applies at the next restart`)
        }
      }
      if (changed.includes('logLevel')) {
        parts.log.level = next.logLevel
        applied.push('logLevel')
      }
      if (changed.includes('rateLimits') || changed.includes('adminAllow')) {
        parts.security.reload(next)
        applied.push(...changed.filter((k) => k === 'rateLimits' || k === 'adminAllow'))
      }
      if (changed.includes('cacheRecords') || changed.includes('cacheRecordsTtl')) {
        parts.readCache.enabled = next.cacheRecords
        parts.readCache.ttlMs = next.cacheRecordsTtl
        applied.push(...changed.filter((k) => k === 'cacheRecords' || k === 'cacheRecordsTtl'))
      }
      applied.push(...(await reloadSqlInstances(parts.sql, prev, next, { open, log: parts.log, dir: initial.dir, routing })))
      // What did not apply (a refused switch) stays as it was, so the next reload tries it again.
      current = { ...next, ...Object.fromEntries(changed.filter((k) => !applied.includes(k)).map((k) => [k, prev[k]])) }
      parts.log.info({ applied, restart }, applied.length ? `config reloaded: ${applied.join(', ')}` : 'config reloaded: nothing to change live')
      return { applied, restart }
    }
    const result = queue.then(run)
    queue = result.then(() => undefined, () => undefined)
    return result
  }
}
