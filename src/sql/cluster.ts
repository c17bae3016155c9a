import { readFileSync, writeFileSync, renameSync } from 'node:fs'
import path from 'node:path'
import type { PlinthConfig } from '../config/schema.ts'
import { parseDbUrl, maskUrl, type ServerTarget } from '../config/urls.ts'
import type { Logger } from '../log.ts'
import { openSql, openSqlUnchecked } from './open.ts'
import { SqlRouter, sameUrl, type SqlMember } from './router.ts'
import type { QueryObserver, SqlEngine, SqlEngineName, SqlRole } from './sql.ts'

/** What the router's engines report to (the process's metrics; named structurally so sql/ does not import it). */
export interface SqlMetricsSink {
  sqlObserver(engine: SqlEngineName, role: SqlRole): QueryObserver
  watchPool(engine: SqlEngine): void
}

/**
 * The file in the data folder that keeps which instance a `plinth db switch-primary` made the
 * primary, so that a node restarted after a switch writes where the others do. It holds one URL;
 * a URL that is not among this node's configured instances is ignored with a warning.
 */
export const SWITCHED_PRIMARY_FILE = 'db-primary'

/** The URL a switch made the primary, if one was recorded in `dir`. */
export function readSwitchedPrimary(dir: string): string | undefined {
  try {
    return readFileSync(path.join(dir, SWITCHED_PRIMARY_FILE), 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/** Records `url` as the primary in `dir` (atomically: a crash leaves the old file or the new one). */
export function writeSwitchedPrimary(dir: string, url: string): void {
  const file = path.join(dir, SWITCHED_PRIMARY_FILE)
  writeFileSync(`${file}.tmp`, `${url}\n`, { mode: 0o600 })
  renameSync(`${file}.tmp`, file)
}

/** Every configured instance with its configured role: `db`, then `dbReplicas`, then `dbDr`. */
export function configuredInstances(config: Readonly<PlinthConfig>): { url: string; role: SqlRole }[] {
  return [
    { url: config.db, role: 'primary' as const },
    ...config.dbReplicas.map((url) => ({ url, role: 'replica' as const })),
    ...(config.dbDr ? [{ url: config.dbDr, role: 'dr' as const }] : []),
  ]
}

/**
 * Opens the SQL router for `config`: the primary (which must answer: migrations run on it next),
 * then each replica and the DR instance without waiting for them (they may be down; the router
 * probes). A switch recorded in the data folder (see above) picks the primary over `db`.
 */
export async function openSqlRouter(config: Readonly<PlinthConfig>, log: Logger, metrics: SqlMetricsSink): Promise<SqlRouter> {
  const all = configuredInstances(config)
  const switched = readSwitchedPrimary(config.dir)
  if (switched && !all.some((i) => sameUrl(i.url, switched))) {
    log.warn({ url: maskUrl(switched) }, `db: ignoring ${SWITCHED_PRIMARY_FILE}: it names no configured instance`)
  }
  const primaryUrl = switched && all.some((i) => sameUrl(i.url, switched)) ? switched : config.db
  // Engines tell the router of an unreachable server; the router exists only once they are open.
  const late: { router?: SqlRouter } = {}
  const opened: SqlMember[] = []
  const open = instanceOpener(config, metrics, () => late.router)
  try {
    opened.push({ url: primaryUrl, engine: await open(primaryUrl, 'primary', true) })
    for (const i of all) {
      if (sameUrl(i.url, primaryUrl)) continue
      opened.push({ url: i.url, engine: await open(i.url, i.role === 'primary' ? 'replica' : i.role, false) })
    }
  } catch (err) {
    await Promise.all(opened.map((m) => m.engine.close().catch(() => undefined)))
    throw err
  }
  const [primary, ...rest] = opened
  const dr = rest.find((m) => sameUrl(m.url, config.dbDr))
  // The configured primary, when a switch moved writes away from it, is retired rather than read from.
  const replicas = rest.filter((m) => m !== dr && !sameUrl(m.url, config.db))
  const retired = rest.filter((m) => m !== dr && sameUrl(m.url, config.db))
  await Promise.all(retired.map((m) => m.engine.close()))
  const router = new SqlRouter(primary!, replicas, dr, {
    maxReplicaLag: config.dbMaxReplicaLag,
    onChange: (event, i) => log.warn({ url: maskUrl(i.url), role: i.role, error: i.error }, `db: ${event}`),
  })
  late.router = router
  router.start()
  return router
}

/**
 * Opens one instance for the router returned by `router()` (told when its server is unreachable),
 * with the pool limits of `config`; `check`: fail now when it does not answer (the primary).
 */
export function instanceOpener(config: Readonly<PlinthConfig>, metrics: SqlMetricsSink, router: () => SqlRouter | undefined) {
  return async (url: string, role: SqlRole, check: boolean): Promise<SqlEngine> => {
    const target = parseDbUrl(url, role === 'primary' ? 'db' : role === 'dr' ? 'dbDr' : 'dbReplicas')
    const self: { engine?: SqlEngine } = {}
    const opts = {
      role,
      onQuery: metrics.sqlObserver(target.engine, role),
      limits: config,
      onUnavailable: () => self.engine && router()?.suspect(self.engine),
    }
    const engine = check || target.engine === 'sqlite' ? await openSql(target, opts) : await openSqlUnchecked(target as ServerTarget, opts)
    self.engine = engine
    metrics.watchPool(engine)
    return engine
  }
}
