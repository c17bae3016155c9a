import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { Kysely, SqliteDialect, sql } from 'kysely'
import type { SqliteTarget } from '../config/urls.ts'
import { defaultSqlLimits, type OpenOptions, type SqlEngine } from './sql.ts'
import type BetterSqlite3 from 'better-sqlite3'
import { StartupError } from '../config/errors.ts'
import type { SqlErrorKind } from './errors.ts'
import { guardDialect } from './guard.ts'

/** SQLITE_BUSY: the write lock stayed taken for the whole busy_timeout (poolTimeout). */
function classify(err: unknown): SqlErrorKind {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY') ? 'unavailable' : undefined
}

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
function withStatementCache(conn: BetterSqlite3.Database): Pick<BetterSqlite3.Database, 'close' | 'prepare'> {
  const cache = new Map<string, BetterSqlite3.Statement>()
  return {
    close: () => conn.close(),
    prepare(source: string) {
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
import { kyselyLog } from './observe.ts'

/**
 * The embedded engine: one better-sqlite3 connection in WAL mode.
 *
 * Limits: `poolTimeout` is the busy timeout, how long a statement waits for another process's
 * write lock before SqlUnavailableError (503). `statementTimeout` cannot be enforced: better-sqlite3
 * runs each statement synchronously and exposes neither `sqlite3_interrupt` nor a progress handler,
 * so nothing can stop a statement once it runs (and the event loop waits for it). SQLite's work is
 * bounded by the shape of the queries instead: the filter language's limits on expression size,
 * relation depth and `perPage`.
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
  const db = new Kysely({ dialect: guardDialect(new SqliteDialect({ database: withStatementCache(conn) }), classify), log: kyselyLog(opts.onQuery) })
  let closed = false
  return {
    name: 'sqlite',
    role: opts.role ?? 'primary',
    db,
    capabilities: {
      returning: true,
      transactionalDdl: true,
      upsert: 'on-conflict',
      json: 'json1',
      nativeBoolean: false,
      rowid: true,
      concurrentConnections: false,
    },
    async ping() {
      if (closed) throw new Error('engine is closed')
      await sql`select 1`.execute(db)
    },
    // Nothing to lift: SQLite statements are not time-limited (see above).
    withoutStatementTimeout: (fn) => fn(db),
    poolStats: () => ({ total: closed ? 0 : 1, idle: closed ? 0 : 1, waiting: 0 }),
    async close() {
      if (closed) return
      closed = true
      await db.destroy() // closes the better-sqlite3 handle too
    },
  }
}
