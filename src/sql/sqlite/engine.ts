import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { SqliteDialect } from 'kysely'
import type { SqliteTarget } from '../../config/urls.ts'
import { defaultSqlLimits, type OpenOptions, type SqlEngine } from '../sql.ts'
import type BetterSqlite3 from 'better-sqlite3'
import { StartupError } from '../../config/errors.ts'
import { engineOver } from '../engine.ts'
import { sqliteDialect, StatementTimeUp } from './dialect.ts'

/** How many prepared statements are kept per connection. */
const STATEMENT_CACHE_SIZE = 500

/**
 * Kysely prepares every query anew; with better-sqlite3 that is most of a simple query's cost
 * (measured ~27 of ~36 us for a lookup by id). This keeps prepared statements by SQL text, least
 * recently used out first. Any schema change (CREATE/ALTER/DROP) empties the cache, so no
 * statement outlives the shape of the tables it was prepared against.
 * NB: safe only because Kysely runs statements with `.all()`/`.run()` to completion; a statement
 * must never be shared by two iterations in flight (Plinth does not use `.stream()` on SQLite).
 */
function withStatementCache(conn: BetterSqlite3.Database, onStatement: () => void): Pick<BetterSqlite3.Database, 'close' | 'prepare'> {
  const cache = new Map<string, BetterSqlite3.Statement>()
  return {
    close: () => conn.close(),
    prepare(source: string) {
      // Kysely's driver runs the statement right after preparing it, in the same synchronous step.
      onStatement()
      if (/^\s*(create|alter|drop)\b/i.test(source)) {
        cache.clear()
        return conn.prepare(source)
      }
      let stmt = cache.get(source)
      if (stmt) {
        cache.delete(source)
      } else {
        stmt = conn.prepare(source)
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!)
      }
      cache.set(source, stmt)
      return stmt
    },
  } as Pick<BetterSqlite3.Database, 'close' | 'prepare'>
}

/**
 * The embedded engine: one better-sqlite3 connection in WAL mode.
 *
 * Limits: `poolTimeout` is the busy timeout, how long a statement waits for another process's
 * write lock before SqlUnavailableError (503). better-sqlite3 runs each statement synchronously and
 * exposes neither `sqlite3_interrupt` nor a progress handler, so nothing outside can stop a running
 * statement (and the event loop waits for it). `statementTimeout` is enforced from inside instead:
 * the SQL function `plinth_in_time()` throws once the statement's time is up, which aborts it, and
 * the filter language calls it in every relation hop (the dialect's `statementGuard`), where work
 * grows with the data. A statement without such a call (a plain scan) is bounded by its shape:
 * the filter limits and `perPage`.
 * NB: statements that write must be run with `.run()` or `.all()`, never `.get()`: an unfinished
 * statement keeps a read transaction open and stops SQLite's automatic WAL checkpoint (the WAL
 * then grows without bound). Kysely's driver already uses `.all()`/`.run()`.
 */
export async function openSqlite(target: SqliteTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  const { default: Database } = await import('better-sqlite3')
  const limits = opts.limits ?? defaultSqlLimits
  let conn: BetterSqlite3.Database
  try {
    if (target.file !== ':memory:') mkdirSync(path.dirname(target.file), { recursive: true })
    conn = new Database(target.file)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new StartupError(`db: cannot open ${target.file}: ${e.code === 'EACCES' ? 'permission denied' : e.message}`)
  }
  conn.pragma('journal_mode = WAL')
  conn.pragma('synchronous = NORMAL')
  conn.pragma('foreign_keys = ON')
  // NB: better-sqlite3 waits for a busy lock synchronously: the whole process pauses up to this long.
  conn.pragma(`busy_timeout = ${Math.trunc(limits.poolTimeout)}`)
  // Let the WAL be checkpointed back to ~4 MB so it cannot grow unbounded after a burst.
  conn.pragma('journal_size_limit = 4194304')
  // The statement guard: the deadline of the statement running now (one at a time: synchronous).
  let deadline = Number.POSITIVE_INFINITY
  let lifted = 0
  conn.function('plinth_in_time', { deterministic: false }, () => {
    if (Date.now() > deadline) throw new StatementTimeUp('statement ran past statementTimeout')
    return 1
  })
  const onStatement = () => {
    deadline = limits.statementTimeout > 0 && lifted === 0 ? Date.now() + limits.statementTimeout : Number.POSITIVE_INFINITY
  }
  // NB: destroying the Kysely instance (the engine's close) closes the better-sqlite3 handle too.
  const statements = withStatementCache(conn, onStatement)
  return engineOver('sqlite', sqliteDialect, new SqliteDialect({ database: statements }), opts, (db) => ({
    // A read runs at once, synchronously, unless a transaction is open on the one connection: it
    // would see that transaction's uncommitted writes, so then it queues behind it through Kysely.
    direct(compiled) {
      if (conn.inTransaction) return undefined
      const stmt = statements.prepare(compiled.sql)
      return stmt.reader ? (stmt.all(compiled.parameters) as unknown[]) : undefined
    },
    // NB: the one connection is shared, so other requests' statements run unguarded meanwhile too.
    async withoutStatementTimeout(fn) {
      lifted++
      try {
        return await fn(db)
      } finally {
        lifted--
      }
    },
    poolStats: (open) => ({ total: open ? 1 : 0, idle: open ? 1 : 0, waiting: 0 }),
  }))
}
