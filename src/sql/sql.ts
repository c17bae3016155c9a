import type { CompiledQuery, Kysely } from 'kysely'
import type { SqlEngineName } from '../config/urls.ts'
import type { SqlDialect } from './dialect.ts'

export type { SqlEngineName }

/** The role an engine plays behind the SQL router. */
export type SqlRole = 'primary' | 'replica' | 'dr'

/**
 * What an engine can do. Features ask these instead of testing the engine's name,
 * so a new engine only has to describe itself. Every dialect (dialect.ts) carries these flags.
 */
export interface SqlCapabilities {
  /** `INSERT/UPDATE/DELETE ... RETURNING` */
  readonly returning: boolean
  /** DDL inside a transaction rolls back with it (not MySQL). */
  readonly transactionalDdl: boolean
  /** How an upsert is written: `ON CONFLICT (...) DO UPDATE` or `ON DUPLICATE KEY UPDATE`. */
  readonly upsert: 'on-conflict' | 'on-duplicate-key'
  /** Booleans bind as true/false (PostgreSQL); otherwise as 1/0 (SQLite, MySQL). */
  readonly nativeBoolean: boolean
  /** Tables have an implicit `rowid` (SQLite), usable for `@rowid` sorting. */
  readonly rowid: boolean
  /** Several connections at once (a pool); SQLite has one writer connection. */
  readonly concurrentConnections: boolean
  /** The deepest JSON its JSON columns accept (MariaDB's JSON_VALID: 31); unset: no limit below Plinth's own. */
  readonly maxJsonDepth?: number
  /**
   * SQL (a boolean call) that stops the running statement once `statementTimeout` has passed, for
   * an engine whose server cannot cancel a statement itself (SQLite: better-sqlite3 runs it
   * synchronously, with no interrupt). Query builders put it in the subqueries whose work grows
   * with the data (the filter language's relation hops). Unset where the server enforces the limit.
   */
  readonly statementGuard?: string
}

export interface PoolStats {
  /** Connections open now. */
  total: number
  /** Of those, idle. */
  idle: number
  /** Callers waiting for a connection. */
  waiting: number
}

/** Called after every query, for metrics. */
export type QueryObserver = (durationMs: number, failed: boolean) => void

/**
 * The SQL port: one database connection (or pool) behind Kysely, and its dialect.
 * Engines, one folder each (`engine.ts` opens it, `dialect.ts` describes it): `sqlite/`
 * (better-sqlite3), `postgres/` (pg), `mysql/` (mysql2, for MySQL and MariaDB).
 */
export interface SqlEngine {
  /** For logs and metric labels only: never branch on it, ask `capabilities`. */
  readonly name: SqlEngineName
  readonly role: SqlRole
  // NB: `any` here is Kysely's own convention for a schema defined at run time (collections).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly db: Kysely<any>
  /** Everything that differs between engines: capability flags, DDL, fragments, error kinds. */
  readonly dialect: SqlDialect
  /** The same object as `dialect`, under the name callers that only ask for flags use. */
  readonly capabilities: SqlDialect
  /**
   * Runs one compiled read outside any transaction and returns its rows: the same statement,
   * errors (errors.ts) and metrics as through `db`, without the query builder's executor on the
   * way (engines run it on the driver directly where they can). NB: never for a read that must see
   * an open transaction's writes: run that through the transaction's own Kysely.
   */
  query<R = Record<string, unknown>>(compiled: CompiledQuery): Promise<R[]>
  /** Resolves when the server answers a trivial query; rejects otherwise. */
  ping(): Promise<void>
  poolStats(): PoolStats
  /**
   * Runs `fn` on one connection with `statementTimeout` lifted, for work that is long by nature
   * and not driven by a request (migrations, and waiting for another node's migration lock).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  withoutStatementTimeout<T>(fn: (db: Kysely<any>) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** Bounds on database work; the config's keys of the same names (milliseconds). */
export interface SqlLimits {
  /** The longest one statement may run; 0 = no limit. Not enforceable on SQLite (see sqlite/engine.ts). */
  statementTimeout: number
  /** How long to wait for a free connection (SQLite: for the write lock) before SqlUnavailableError. */
  poolTimeout: number
  /** Connections per server database. */
  poolSize: number
}

export const defaultSqlLimits: Readonly<SqlLimits> = { statementTimeout: 10_000, poolTimeout: 5_000, poolSize: 10 }

export interface OpenOptions {
  role?: SqlRole
  onQuery?: QueryObserver
  /** Defaults to `defaultSqlLimits`; a PlinthConfig fits as it is. */
  limits?: SqlLimits
  /** Called whenever a statement or connection fails because the server cannot be reached (the router's hint). */
  onUnavailable?: () => void
}
