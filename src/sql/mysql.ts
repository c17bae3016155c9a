import { Kysely, MysqlDialect, sql } from 'kysely'
import type { ServerTarget } from '../config/urls.ts'
import type { OpenOptions, SqlEngine } from './sql.ts'
import { kyselyLog } from './observe.ts'

/** The pool internals mysql2 does not type; read only for metrics. */
interface Mysql2PoolInternals {
  _allConnections?: { length: number }
  _freeConnections?: { length: number }
  _connectionQueue?: { length: number }
}

/** MySQL and MariaDB through a `mysql2` pool. `mysql2` is loaded only when this engine is chosen. */
export async function openMysql(target: ServerTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  const { createPool } = await import('mysql2')
  const pool = createPool({
    uri: target.url,
    connectionLimit: 10,
    connectTimeout: 5000,
    // UTC everywhere, dates as text: the same values as on the other engines.
    timezone: 'Z',
    dateStrings: true,
    // JSON as text on every engine: the field layer parses it (see postgres.ts).
    jsonStrings: true,
    supportBigNumbers: true,
    // Binary collation for the connection too, so literals and parameters compare byte by byte
    // like the tables (and like SQLite and PostgreSQL), not case-insensitively.
    charset: 'UTF8MB4_BIN',
  })
  const db = new Kysely({ dialect: new MysqlDialect({ pool }), log: kyselyLog(opts.onQuery) })
  const internals = pool as unknown as Mysql2PoolInternals
  let closed = false
  return {
    name: 'mysql',
    role: opts.role ?? 'primary',
    db,
    capabilities: {
      returning: false,
      transactionalDdl: false,
      upsert: 'on-duplicate-key',
      json: 'mysql-json',
      nativeBoolean: false,
      rowid: false,
      concurrentConnections: true,
      // MariaDB's JSON_VALID (the CHECK on its JSON columns) refuses 32 levels of nesting or more.
      maxJsonDepth: 31,
    },
    async ping() {
      if (closed) throw new Error('engine is closed')
      await sql`select 1`.execute(db)
    },
    poolStats: () => {
      const total = internals._allConnections?.length ?? 0
      return { total, idle: internals._freeConnections?.length ?? 0, waiting: internals._connectionQueue?.length ?? 0 }
    },
    async close() {
      if (closed) return
      closed = true
      await db.destroy()
    },
  }
}
