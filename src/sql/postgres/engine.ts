import { PostgresDialect, sql } from 'kysely'
import type { ServerTarget } from '../../config/urls.ts'
import { defaultSqlLimits, type OpenOptions, type SqlEngine } from '../sql.ts'
import { networkCode } from '../errors.ts'
import { engineOver } from '../engine.ts'
import { classify, postgresDialect } from './dialect.ts'


/** A one-line reason why the first connection failed, for start-up; undefined when it is not a connection problem. */
export function describeConnectError(err: unknown, target: ServerTarget): string | undefined {
  const url = new URL(target.url)
  const host = `${url.hostname}${url.port ? `:${url.port}` : ''}`
  const code = (err as { code?: unknown } | undefined)?.code
  if (code === '3D000') {
    const user = url.username ? ` -U ${decodeURIComponent(url.username)}` : ''
    return `database "${target.database}" does not exist on ${host}; create it with: createdb -h ${url.hostname}${url.port ? ` -p ${url.port}` : ''}${user} ${target.database}`
  }
  if (code === '28P01' || code === '28000') return `the server at ${host} refused the login: ${(err as Error).message}`
  const net = networkCode(err)
  if (net === 'ECONNREFUSED') return `the connection to ${host} was refused (ECONNREFUSED): is the server running and listening there?`
  if (net) return `cannot connect to ${host} (${net})`
  if (classify(err) === 'unavailable') return `cannot connect to ${host}: ${(err as Error).message}`
  return undefined
}

/** The errors of a connection the server already ended: admin shutdown (57P01) or a closed socket. */
const DEAD_CONNECTION = (err: unknown): boolean =>
  (err as { code?: unknown } | undefined)?.code === '57P01' || /^Connection terminated/.test((err as Error | undefined)?.message ?? '') || networkCode(err) === 'ECONNRESET'

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
  const limits = opts.limits ?? defaultSqlLimits
  const pool = new pg.Pool({
    connectionString: target.url,
    max: limits.poolSize,
    // Bounds both the wait for a free connection and the making of a new one.
    connectionTimeoutMillis: limits.poolTimeout,
    idleTimeoutMillis: 30_000,
    // Sent at connection start, so it is every session's default; the server cancels a statement
    // past it (SQLSTATE 57014), which covers time spent waiting for locks too. 0 = no limit.
    statement_timeout: limits.statementTimeout || undefined,
  })
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => {})
  // Nor one dropped while checked out between two statements (a transaction whose server stops):
  // pg emits that on the client, where nothing listens. The statement in flight still fails with
  // the error, and the pool discards the broken client when it comes back.
  pool.on('connect', (client) => void client.on('error', () => {}))
  return engineOver('postgres', postgresDialect, new PostgresDialect({ pool }), opts, (db) => ({
    direct: async (compiled) => {
      const run = async () => (await pool.query({ text: compiled.sql, values: compiled.parameters as unknown[] })).rows
      // An idle connection the server ended (a restart, pg_terminate_backend, an idle timeout) may
      // still be handed out before its close is read; the statement then fails on it and the pool
      // drops it. A SELECT is sent again on another connection (at most once per pooled one),
      // so the request succeeds and the router is not told of an outage that is not one. NB: only
      // a SELECT: a write that may have run is never sent twice.
      for (let tries = 0; ; tries++) {
        try {
          return await run()
        } catch (err) {
          if (tries >= limits.poolSize || !DEAD_CONNECTION(err) || !/^\s*select\b/i.test(compiled.sql)) throw err
        }
      }
    },
    withoutStatementTimeout: (fn) =>
      db.connection().execute(async (conn) => {
        await sql`set statement_timeout = 0`.execute(conn)
        try {
          return await fn(conn)
        } finally {
          // Back to the value given at connection start; the connection returns to the pool.
          await sql`reset statement_timeout`.execute(conn)
        }
      }),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: async () => {
      if (!pool.ended) await pool.end()
    },
  }))
}
