import { Kysely, sql, type Dialect } from 'kysely'
import type { SqlDialect } from './dialect.ts'
import { guardDialect } from './guard.ts'
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
  const db: Db = new Kysely({ dialect: guardDialect(driver, dialect.classify), log: kyselyLog(opts.onQuery) })
  const own = specifics(db)
  let closed = false
  return {
    name,
    role: opts.role ?? 'primary',
    db,
    dialect,
    capabilities: dialect,
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
    },
  }
}
