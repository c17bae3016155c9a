import { Kysely, PostgresDialect, sql } from 'kysely'
import type { ServerTarget } from '../config/urls.ts'
import type { OpenOptions, SqlEngine } from './sql.ts'
import { kyselyLog } from './observe.ts'

/** PostgreSQL through a `pg` pool. `pg` is loaded only when this engine is chosen. */
export async function openPostgres(target: ServerTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  const { default: pg } = await import('pg')
  // int8 (counts, sums) as JS numbers: record values stay JSON-friendly. Exact beyond 2^53 is not needed here.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v))
  pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v: string) => Number(v))
  // JSON as text, like SQLite and MySQL give it: the field layer parses it, so a json value
  // holding the string "123" stays a string instead of becoming the number 123.
  pg.types.setTypeParser(pg.types.builtins.JSON, (v: string) => v)
  pg.types.setTypeParser(pg.types.builtins.JSONB, (v: string) => v)
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  })
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => {})
  const db = new Kysely({ dialect: new PostgresDialect({ pool }), log: kyselyLog(opts.onQuery) })
  let closed = false
  return {
    name: 'postgres',
    role: opts.role ?? 'primary',
    db,
    capabilities: {
      returning: true,
      transactionalDdl: true,
      upsert: 'on-conflict',
      json: 'jsonb',
      nativeBoolean: true,
      rowid: false,
      concurrentConnections: true,
    },
    async ping() {
      if (closed) throw new Error('engine is closed')
      await sql`select 1`.execute(db)
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      if (closed) return
      closed = true
      await db.destroy()
    },
  }
}
