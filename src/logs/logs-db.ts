import path from 'node:path'
import type { Kysely } from 'kysely'
import type { PlinthConfig } from '../config/schema.ts'
import { parseDbUrl, type DbTarget } from '../config/urls.ts'
import { openSql } from '../sql/open.ts'
import type { SqlEngine } from '../sql/sql.ts'

/** PocketBase's request log table (in its `auxiliary.db`). */
export const LOGS_TABLE = '_logs'

/** Where the logs go, and whether they share the main database's engine (then it is not closed here). */
export interface LogsDb {
  engine: SqlEngine
  /** `auxiliary.db`, `logs.url` (password masked) or `db`, for the start-up line. */
  where: string
  close(): Promise<void>
}

/**
 * The logs database: `logs.url` when set; else, on SQLite, `auxiliary.db` beside the data
 * (PocketBase's layout: request logs never contend with the data for SQLite's one writer); else the
 * main database (a cluster's nodes must all see one log). The table is created when missing.
 */
export async function openLogsDb(config: Readonly<PlinthConfig>, main: SqlEngine): Promise<LogsDb> {
  let target: DbTarget | undefined
  let where = 'db'
  if (config.logs.url) {
    target = parseDbUrl(config.logs.url, 'logs.url')
    where = 'logs.url'
  } else if (parseDbUrl(config.db, 'db').engine === 'sqlite') {
    target = { engine: 'sqlite', file: path.join(config.dir, 'auxiliary.db') }
    where = 'auxiliary.db'
  }
  const limits = { statementTimeout: config.statementTimeout, poolTimeout: config.poolTimeout, poolSize: Math.min(config.poolSize, 4) }
  const engine = target ? await openSql(target, { limits }) : main
  try {
    await createLogsTable(engine)
  } catch (err) {
    if (target) await engine.close().catch(() => undefined)
    throw err
  }
  return { engine, where, close: async () => (target ? engine.close() : undefined) }
}

/**
 * `_logs`: `id`, `created` (PocketBase's `YYYY-MM-DD HH:MM:SS.sssZ`), `level` (slog's: -4 debug,
 * 0 info, 4 warn, 8 error), `message`, `data` (JSON). Indexed on `created` (lists, stats, retention)
 * and `level`. Made here rather than by a migration: the table may live in a database of its own.
 */
async function createLogsTable(engine: SqlEngine): Promise<void> {
  // NB: `any` is Kysely's convention for a schema known only at run time.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const db: Kysely<any> = engine.db
  const tables = await db.introspection.getTables()
  if (tables.some((t) => t.name === LOGS_TABLE)) return
  const json = engine.dialect.column('json')
  await db.schema
    .createTable(LOGS_TABLE)
    .ifNotExists()
    .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('created', 'varchar(32)', (c) => c.notNull())
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data', json.type, json.build)
    .execute()
    // Two nodes starting at once on one PostgreSQL: IF NOT EXISTS still races there (the row type
    // is made first and the loser gets "type _logs already exists"); the table exists either way.
    .catch(ignoreExists)
  await db.schema.createIndex('idx__logs_created').on(LOGS_TABLE).column('created').execute().catch(ignoreExists)
  await db.schema.createIndex('idx__logs_level').on(LOGS_TABLE).column('level').execute().catch(ignoreExists)
}

/** Two nodes starting at once may both make the table and its indexes (not every engine has CREATE INDEX IF NOT EXISTS). */
function ignoreExists(err: unknown): void {
  if (!/exist|duplicate/i.test((err as Error).message)) throw err
}
