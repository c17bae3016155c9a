import { sql, type RawBuilder } from 'kysely'
import { indexWhereSql, jsonPath, type ColumnSpec, type SqlDialect, type StorageKind } from '../dialect.ts'
import type { SqlErrorKind } from '../errors.ts'

/** Thrown by the statement guard (`plinth_in_time()`) inside SQLite; the statement stops with it. */
export class StatementTimeUp extends Error {
  readonly code = 'PLINTH_STATEMENT_TIMEOUT'
}

/** How the guard function is named in SQL (`statementGuard`). */
export const STATEMENT_GUARD = 'plinth_in_time()'

/**
 * The statement guard's own error (timeout); SQLITE_BUSY: the write lock stayed taken for the
 * whole busy_timeout (poolTimeout); a UNIQUE or PRIMARY KEY constraint.
 */
function classify(err: unknown): SqlErrorKind {
  if (err instanceof StatementTimeUp) return 'timeout'
  const code = (err as { code?: unknown } | undefined)?.code
  if (typeof code !== 'string') return undefined
  if (code.startsWith('SQLITE_BUSY')) return 'unavailable'
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'unique_violation'
  return undefined
}

// NB: fixed type names only; nothing user-supplied reaches these raw fragments.
const columns: Record<StorageKind, ColumnSpec> = {
  'primary-key': { type: sql`text`, build: (c) => c.primaryKey().notNull() },
  text: { type: sql`text`, build: (c) => c.notNull().defaultTo(sql.lit('')) },
  number: { type: sql`numeric`, build: (c) => c.notNull().defaultTo(0) },
  bool: { type: sql`boolean`, build: (c) => c.notNull().defaultTo(false) },
  json: { type: sql`text`, build: (c) => c },
  'json-array': { type: sql`text`, build: (c) => c.notNull().defaultTo(sql.lit('[]')) },
  'geo-point': { type: sql`text`, build: (c) => c.notNull().defaultTo(sql.lit('{"lon":0,"lat":0}')) },
}

/** A JSON document, or NULL where the text is not JSON (JSON1 raises an error on malformed JSON). */
const validJson = (j: RawBuilder<unknown>) => sql`(case when json_valid(${j}) then ${j} else null end)`

/**
 * SQLite: JSON1 over TEXT, an implicit rowid, transactional DDL, partial indexes and collations
 * in indexes. Its own strftime is PocketBase's reference.
 */
export const sqliteDialect: SqlDialect = {
  returning: true,
  transactionalDdl: true,
  upsert: 'on-conflict',
  nativeBoolean: false,
  rowid: true,
  concurrentConnections: false,
  statementGuard: STATEMENT_GUARD,
  classify,

  column: (kind) => columns[kind],
  bigText: sql`text`,
  async createIndex(db, index) {
    const cols = index.columns.map((col) => {
      let ref = sql`${sql.id(col.name)}`
      if (col.collate) ref = sql`${ref} collate ${sql.id(col.collate)}`
      if (col.sort) ref = sql`${ref} ${col.sort === 'DESC' ? sql`desc` : sql`asc`}`
      return ref
    })
    const where = index.where.length ? sql` where ${indexWhereSql(index.where)}` : sql``
    await sql`create ${index.unique ? sql`unique ` : sql``}index ${sql.id(index.name)} on ${sql.table(index.table)} (${sql.join(cols)})${where}`.execute(db)
  },
  async dropIndex(db, index) {
    await db.schema.dropIndex(index.name).ifExists().execute()
  },

  arrayElements: (j, a) => ({
    from: sql`json_each(case when json_valid(${j}) then ${j} else '[]' end) as ${sql.id(a)}`,
    v: sql.ref(`${a}.value`),
  }),
  arrayLength: (j) => sql<number>`coalesce(json_array_length(case when json_valid(${j}) then ${j} else '[]' end), 0)`,
  asText: (e) => sql<string>`cast(${e} as text)`,
  exactText: (e) => e,
  asNumber: (e) => sql<number>`cast(${e} as real)`,
  random: () => sql`random()`,
  likeEscape: sql.raw(`'\\'`),
  likeLower: (e) => sql`lower(${e})`,
  jsonExtract: (j, path) => {
    const doc = validJson(j)
    const p = jsonPath(path)
    // json_extract gives SQLite values (true is 1): read the JSON type to give text like the others.
    return sql`(case json_type(${doc}, ${p}) when 'true' then 'true' when 'false' then 'false' when 'null' then null else cast(json_extract(${doc}, ${p}) as text) end)`
  },
  strftime: (time, format, modifiers) => sql<string>`strftime(${sql.join([sql`${format.raw}`, time, ...modifiers.raw.map((m) => sql`${m}`)])})`,
}
