import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { Kysely, SqliteDialect, sql } from 'kysely'
import type { SqliteTarget } from '../config/urls.ts'
import type { OpenOptions, SqlEngine } from './sql.ts'
import { kyselyLog } from './observe.ts'

/**
 * The embedded engine: one better-sqlite3 connection in WAL mode.
 * NB: statements that write must be run with `.run()` or `.all()`, never `.get()`: an unfinished
 * statement keeps a read transaction open and stops SQLite's automatic WAL checkpoint (the WAL
 * then grows without bound). Kysely's driver already uses `.all()`/`.run()`.
 */
export async function openSqlite(target: SqliteTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  const { default: Database } = await import('better-sqlite3')
  if (target.file !== ':memory:') mkdirSync(path.dirname(target.file), { recursive: true })
  const conn = new Database(target.file)
  conn.pragma('journal_mode = WAL')
  conn.pragma('synchronous = NORMAL')
  conn.pragma('foreign_keys = ON')
  conn.pragma('busy_timeout = 10000')
  // Let the WAL be checkpointed back to ~4 MB so it cannot grow unbounded after a burst.
  conn.pragma('journal_size_limit = 4194304')
  const db = new Kysely({ dialect: new SqliteDialect({ database: conn }), log: kyselyLog(opts.onQuery) })
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
    poolStats: () => ({ total: closed ? 0 : 1, idle: closed ? 0 : 1, waiting: 0 }),
    async close() {
      if (closed) return
      closed = true
      await db.destroy() // closes the better-sqlite3 handle too
    },
  }
}
