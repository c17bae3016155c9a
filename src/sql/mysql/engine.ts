import { CompiledQuery, MysqlDialect, sql, type DatabaseConnection } from 'kysely'
import type { Pool, PoolConnection } from 'mysql2'
import type { ServerTarget } from '../../config/urls.ts'
import { defaultSqlLimits, type OpenOptions, type SqlEngine } from '../sql.ts'
import { networkCode, SqlUnavailableError } from '../errors.ts'
import { engineOver } from '../engine.ts'
import { classify, mysqlDialect } from './dialect.ts'


/** A one-line reason why the first connection failed, for start-up; undefined when it is not a connection problem. */
export function describeConnectError(err: unknown, target: ServerTarget): string | undefined {
  const url = new URL(target.url)
  const host = `${url.hostname}${url.port ? `:${url.port}` : ''}`
  const errno = (err as { errno?: unknown } | undefined)?.errno
  if (errno === 1049) {
    const user = url.username ? ` -u ${decodeURIComponent(url.username)}${url.password ? ' -p' : ''}` : ''
    return `database "${target.database}" does not exist on ${host}; create it with: mysql -h ${url.hostname}${url.port ? ` -P ${url.port}` : ''}${user} -e 'CREATE DATABASE \`${target.database}\` CHARACTER SET utf8mb4'`
  }
  if (errno === 1045 || errno === 1044) return `the server at ${host} refused the login: ${(err as Error).message}`
  const net = networkCode(err)
  if (net === 'ECONNREFUSED') return `the connection to ${host} was refused (ECONNREFUSED): is the server running and listening there?`
  if (net) return `cannot connect to ${host} (${net})`
  if (classify(err) === 'unavailable') return `cannot connect to ${host}: ${(err as Error).message}`
  return undefined
}

/**
 * mysql2's pool waits for a free connection without a bound; Kysely asks through this wrapper,
 * which gives up after `timeout` ms. A connection that arrives after the caller gave up goes straight back.
 */
function boundedPool(pool: Pool, timeout: number) {
  return {
    getConnection(cb: (err: unknown, conn?: PoolConnection) => void): void {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        cb(new SqlUnavailableError(`database unavailable: no connection free within ${timeout} ms (poolTimeout)`))
      }, timeout)
      pool.getConnection((err, conn) => {
        if (settled) {
          if (!err) conn.release()
          return
        }
        settled = true
        clearTimeout(timer)
        cb(err, conn)
      })
    },
    end: (cb: (err: unknown) => void) => pool.end(cb),
  }
}

/** The session variable that bounds a statement: MariaDB's (seconds) or MySQL's (ms, SELECT only). */
type TimeoutVariable = { set: (ms: number) => string }
const mariadbTimeout: TimeoutVariable = { set: (ms) => `set session max_statement_time = ${ms / 1000}` }
const mysqlTimeout: TimeoutVariable = { set: (ms) => `set session max_execution_time = ${ms}` }

/** The pool internals mysql2 does not type; read only for metrics. */
interface Mysql2PoolInternals {
  _allConnections?: { length: number }
  _freeConnections?: { length: number }
  _connectionQueue?: { length: number }
}

/** MySQL and MariaDB through a `mysql2` pool. `mysql2` is loaded only when this engine is chosen. */
export async function openMysql(target: ServerTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  const { createPool } = await import('mysql2')
  const limits = opts.limits ?? defaultSqlLimits
  const pool = createPool({
    uri: target.url,
    connectionLimit: limits.poolSize,
    connectTimeout: limits.poolTimeout,
    // UTC everywhere, dates as text: the same values as on the other engines.
    timezone: 'Z',
    dateStrings: true,
    // JSON as text on every engine: the field layer parses it (see ../postgres/engine.ts).
    jsonStrings: true,
    supportBigNumbers: true,
    // Binary collation for the connection too, so literals and parameters compare byte by byte
    // like the tables (and like SQLite and PostgreSQL), not case-insensitively.
    charset: 'UTF8MB4_BIN',
  })
  // Which variable this server knows is learnt on the first connection: MariaDB has
  // max_statement_time (every statement), MySQL max_execution_time (SELECT only).
  let timeoutVariable: TimeoutVariable | undefined
  const setTimeoutOn = async (conn: DatabaseConnection, ms: number) => {
    if (timeoutVariable) return void (await conn.executeQuery(CompiledQuery.raw(timeoutVariable.set(ms))))
    try {
      await conn.executeQuery(CompiledQuery.raw(mariadbTimeout.set(ms)))
      timeoutVariable = mariadbTimeout
    } catch (err) {
      if ((err as { errno?: unknown }).errno !== 1193) throw err // 1193: unknown system variable
      await conn.executeQuery(CompiledQuery.raw(mysqlTimeout.set(ms)))
      timeoutVariable = mysqlTimeout
    }
  }
  const dialect = new MysqlDialect({
    pool: boundedPool(pool, limits.poolTimeout) as unknown as Pool,
    onCreateConnection: limits.statementTimeout ? (conn) => setTimeoutOn(conn, limits.statementTimeout) : undefined,
  })
  const internals = pool as unknown as Mysql2PoolInternals
  return engineOver('mysql', mysqlDialect, dialect, opts, (db) => ({
    withoutStatementTimeout: (fn) =>
      db.connection().execute(async (conn) => {
        if (!limits.statementTimeout || !timeoutVariable) return fn(conn)
        const variable = timeoutVariable
        await sql.raw(variable.set(0)).execute(conn)
        try {
          return await fn(conn)
        } finally {
          await sql.raw(variable.set(limits.statementTimeout)).execute(conn)
        }
      }),
    poolStats: () => {
      const total = internals._allConnections?.length ?? 0
      return { total, idle: internals._freeConnections?.length ?? 0, waiting: internals._connectionQueue?.length ?? 0 }
    },
  }))
}
