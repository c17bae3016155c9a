import { Kysely, sql, type CompiledQuery, type Dialect } from 'kysely'
import type { SqlDialect } from './dialect.ts'
import { guardDialect, translate } from './guard.ts'
import { kyselyLog } from './observe.ts'
import type { OpenOptions, PoolStats, SqlEngine, SqlEngineName } from './sql.ts'

// NB: `any` is Kysely's own convention for a schema defined at run time (collections).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

/** What differs between engines once their Kysely instance exists. */
export interface EngineSpecifics {
  withoutStatementTimeout: SqlEngine['withoutStatementTimeout']
  /** `open` is false once the engine is closed. */
  poolStats(open: boolean): PoolStats
  /**
   * Runs a compiled read on the driver directly, for `SqlEngine.query`; errors come raw (the
   * engine translates them). Undefined when this engine cannot here and now (then it goes
   * through Kysely's executor).
   */
  direct?: (compiled: CompiledQuery) => Promise<unknown[]> | unknown[] | undefined
  /**
   * Releases what `direct` may have opened without Kysely knowing: Kysely only ends a pool its
   * driver initialised (on its first query), so an engine only ever asked through `direct` (a
   * probe, `plinth db status`) would otherwise keep idle connections, and the process, alive.
   */
  close?: () => Promise<void>
}

/**
 * An engine over a driver's Kysely dialect, done the same way for every engine: the guard that
 * classifies driver errors with `dialect.classify`, the query observer, `capabilities` (the
 * dialect itself), a `ping` that fails once closed, and an idempotent `close`.
 */
export function engineOver(
  name: SqlEngineName,
  dialect: SqlDialect,
  driver: Dialect,
  opts: OpenOptions,
  specifics: (db: Db) => EngineSpecifics,
): SqlEngine {
  const onUnavailable = opts.onUnavailable
  // The router hears at once that this server stopped answering, not at its next probe.
  const classify: typeof dialect.classify = onUnavailable
    ? (err) => {
        const kind = dialect.classify(err)
        if (kind === 'unavailable') onUnavailable()
        return kind
      }
    : dialect.classify
  const db: Db = new Kysely({ dialect: guardDialect(driver, classify), log: kyselyLog(opts.onQuery) })
  const own = specifics(db)
  const direct = own.direct
  const observe = opts.onQuery
  let closed = false
  const viaKysely = async <R>(compiled: CompiledQuery): Promise<R[]> => (await db.executeQuery<R>(compiled)).rows as R[]
  return {
    name,
    role: opts.role ?? 'primary',
    db,
    dialect,
    capabilities: dialect,
    query<R>(compiled: CompiledQuery): Promise<R[]> {
      if (!direct || closed) return viaKysely<R>(compiled)
      const started = performance.now()
      const done = (failed: boolean) => observe?.(performance.now() - started, failed)
      try {
        const rows = direct(compiled)
        if (rows === undefined) return viaKysely<R>(compiled)
        if (Array.isArray(rows)) {
          done(false)
          return Promise.resolve(rows as R[])
        }
        return rows.then(
          (r) => (done(false), r as R[]),
          (err: unknown) => {
            done(true)
            throw translate(err, classify)
          },
        )
      } catch (err) {
        done(true)
        return Promise.reject(translate(err, classify))
      }
    },
    async ping() {
      if (closed) throw new Error('engine is closed')
      await sql`select 1`.execute(db)
    },
    withoutStatementTimeout: own.withoutStatementTimeout,
    poolStats: () => own.poolStats(!closed),
    async close() {
      if (closed) return
      closed = true
      await db.destroy()
      await own.close?.()
    },
  }
}
