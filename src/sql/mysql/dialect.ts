import { crc32 } from 'node:zlib'
import { sql, type RawBuilder } from 'kysely'
import { indexWhereSql, jsonPath, type AnyDb, type ColumnSpec, type IndexColumnSpec, type IndexSpec, type SqlDialect, type StorageKind } from '../dialect.ts'
import { networkCode, type SqlErrorKind } from '../errors.ts'
import { strftimeFromKit, type DateKit } from '../strftime.ts'

/** MySQL's and MariaDB's error numbers that are the server's state, or a duplicate key. */
export function classify(err: unknown): SqlErrorKind {
  const e = err as { errno?: unknown; code?: unknown; fatal?: unknown } | undefined
  // 1062 ER_DUP_ENTRY (a UNIQUE index or the primary key).
  if (e?.errno === 1062) return 'unique_violation'
  // 1969 ER_STATEMENT_TIMEOUT (MariaDB max_statement_time), 3024 ER_QUERY_TIMEOUT (MySQL max_execution_time),
  // 1205 ER_LOCK_WAIT_TIMEOUT.
  if (e?.errno === 1969 || e?.errno === 3024 || e?.errno === 1205) return 'timeout'
  // 1040 ER_CON_COUNT_ERROR (too many connections), 1053 ER_SERVER_SHUTDOWN.
  if (e?.errno === 1040 || e?.errno === 1053) return 'unavailable'
  if (e?.code === 'PROTOCOL_CONNECTION_LOST' || e?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') return 'unavailable'
  // mysql2's words for a connection that already broke ("Can't add new command when connection is
  // in closed state"): fatal, without a server errno. A transaction whose connection died under it
  // meets this at its rollback, and that error is the one the caller sees.
  if (e?.fatal === true && e.errno === undefined) return 'unavailable'
  return networkCode(err) ? 'unavailable' : undefined
}

/**
 * Characters of a TEXT column an index covers (`col(191)`), so a composite index stays under
 * InnoDB's 3072-byte key limit in utf8mb4. NB: a UNIQUE index then compares only the first 191
 * characters: two values sharing that prefix collide.
 */
const TEXT_INDEX_PREFIX = 191

/** TEXT/JSON defaults are expressions `('')`, which MySQL 8.0.13+ and MariaDB 10.2+ accept (MySQL rejects literal defaults on TEXT). */
const textDefault = (value: string) => sql`(${sql.lit(value)})`

// NB: fixed type names only; nothing user-supplied reaches these raw fragments.
const columns: Record<StorageKind, ColumnSpec> = {
  // A TEXT column cannot be a primary key; other text columns are TEXT (a table of many
  // varchar(5000) columns would pass MySQL's 64 KB row limit).
  'primary-key': { type: sql`varchar(255)`, build: (c) => c.primaryKey().notNull() },
  text: { type: sql`text`, build: (c) => c.notNull().defaultTo(textDefault('')) },
  number: { type: sql`double`, build: (c) => c.notNull().defaultTo(0) },
  bool: { type: sql`boolean`, build: (c) => c.notNull().defaultTo(false) },
  json: { type: sql`json`, build: (c) => c },
  'json-array': { type: sql`json`, build: (c) => c.notNull().defaultTo(textDefault('[]')) },
  'geo-point': { type: sql`json`, build: (c) => c.notNull().defaultTo(textDefault('{"lon":0,"lat":0}')) },
}

const textLike = (kind: StorageKind | undefined) => kind === 'text' || kind === 'json' || kind === 'json-array' || kind === 'geo-point'

/** The invisible generated columns that stand in for a partial index (MySQL has none). */
function shadowColumn(index: IndexSpec, i: number): string {
  return `_pidx_${crc32(Buffer.from(index.name, 'utf8'))}_${i}`
}

/** Whether information_schema lists this index or column of `table` in the current database. */
async function has(db: AnyDb, view: 'statistics' | 'columns', table: string, column: 'index_name' | 'column_name', name: string): Promise<boolean> {
  // NB: information_schema names are fixed; table and name are bound parameters.
  const rows = await sql<{ n: number }>`select count(*) as n from ${sql.table(`information_schema.${view}`)} where table_schema = database() and table_name = ${table} and ${sql.ref(column)} = ${name}`.execute(db)
  return Number(rows.rows[0]?.n ?? 0) > 0
}

function indexedColumn(col: IndexColumnSpec): RawBuilder<unknown> {
  let ref: RawBuilder<unknown> = textLike(col.kind) ? sql`${sql.id(col.name)}(${sql.lit(TEXT_INDEX_PREFIX)})` : sql`${sql.id(col.name)}`
  if (col.sort) ref = sql`${ref} ${col.sort === 'DESC' ? sql`desc` : sql`asc`}`
  return ref
}

const SPEC: Record<string, string> = { Y: '%Y', m: '%m', d: '%d', H: '%H', M: '%i', S: '%S', j: '%j', w: '%w' }

const dates: DateKit = {
  int: (e) => sql`cast(${e} as signed)`,
  text: (e) => sql`cast(${e} as char)`,
  seconds: (e) => sql`cast(${e} as decimal(9,3))`,
  matches: (e, re) => sql`(${e} regexp ${re})`,
  timestamp: ({ y, mo, d, h, mi, sec }) =>
    sql`(timestamp('2000-01-01') + interval (${y} - 2000) year + interval (${mo} - 1) month + interval (${d} - 1) day + interval ${h} hour + interval ${mi} minute + interval ${sec} second)`,
  apply: (ts, m) => {
    if (!('start' in m)) return sql`(${ts} + interval ${m.add} ${sql.raw(m.unit)})`
    return m.start === 'day' ? sql`timestamp(date(${ts}))` : sql`timestamp(date_format(${ts}, ${m.start === 'month' ? '%Y-%m-01' : '%Y-01-01'}))`
  },
  spec: (ts, spec) => {
    switch (spec) {
      case 'f':
        return sql`concat(date_format(${ts}, '%S.'), left(date_format(${ts}, '%f'), 3))`
      case 'u':
        return sql`cast(weekday(${ts}) + 1 as char)`
      case 's':
        // NB: not unix_timestamp(), which reads the session time zone.
        return sql`cast(timestampdiff(second, timestamp('1970-01-01'), ${ts}) as char)`
      default:
        return sql`date_format(${ts}, ${SPEC[spec]!})`
    }
  },
  literal: (text) => sql`${text}`,
}

/**
 * MySQL/MariaDB: JSON columns, no RETURNING, DDL that commits statement by statement, index names
 * per table (`DROP INDEX name ON table`), no partial indexes (emulated below), and no
 * `COLLATE` kept in indexes. Tables are utf8mb4 with binary collation, so `=` and sorting compare
 * text byte by byte as SQLite and PostgreSQL (C collation) do, whatever the database's default is.
 */
/**
 * A MariaDB GTID position (`0-1-42`, or several domains `0-1-42,1-2-7`) as the sum of its
 * sequence numbers: it grows with every commit. Exact for comparing primary and replica with one
 * replication domain (one primary writing at a time, the setup Plinth routes for).
 */
function parseGtid(pos: unknown): number | undefined {
  if (typeof pos !== 'string' || !pos.trim()) return undefined
  let sum = 0
  for (const gtid of pos.split(',')) {
    const seq = /^\s*\d+-\d+-(\d+)\s*$/.exec(gtid)?.[1]
    if (seq === undefined) return undefined
    sum += Number(seq)
  }
  return sum
}

export const mysqlDialect: SqlDialect = {
  returning: false,
  transactionalDdl: false,
  upsert: 'on-duplicate-key',
  nativeBoolean: false,
  rowid: false,
  concurrentConnections: true,
  // MariaDB's JSON_VALID (the CHECK on its JSON columns) refuses 32 levels of nesting or more.
  maxJsonDepth: 31,
  classify,
  replication: {
    // MariaDB's GTID positions (`domain-server-sequence`, one per replication domain).
    primaryPosition: 'select @@global.gtid_binlog_pos as pos',
    appliedPosition: 'select @@global.gtid_slave_pos as pos',
    isReplicating: "select count(*) > 0 as replicating from information_schema.global_status where variable_name = 'Slave_running' and variable_value = 'ON'",
    parse: parseGtid,
  },

  column: (kind) => columns[kind],
  bigText: sql`mediumtext`,
  tableOptions: sql`default charset=utf8mb4 collate=utf8mb4_bin`,
  // Invisible: `SELECT *` (and views over it) leave it out, as SQLite leaves out its rowid.
  rowidColumn: { type: sql`bigint`, build: (c) => c.notNull().autoIncrement().unique().modifyEnd(sql`invisible`) },
  async createIndex(db, index) {
    const table = sql.table(index.table)
    let cols: RawBuilder<unknown>[]
    if (index.where.length) {
      // NB: no partial indexes here: index invisible generated columns that are NULL where the
      // WHERE does not hold (NULLs never collide in a UNIQUE index). A column a failed attempt
      // already added is kept.
      cols = []
      for (const [i, col] of index.columns.entries()) {
        const name = shadowColumn(index, i)
        const [type, value] =
          col.kind === 'number' ? [sql`double`, sql.id(col.name)]
          : col.kind === 'bool' ? [sql`boolean`, sql.id(col.name)]
          : [sql`varchar(${sql.lit(TEXT_INDEX_PREFIX)})`, sql`left(${sql.id(col.name)}, ${sql.lit(TEXT_INDEX_PREFIX)})`]
        if (!(await has(db, 'columns', index.table, 'column_name', name))) {
          await sql`alter table ${table} add column ${sql.id(name)} ${type} as (case when ${indexWhereSql(index.where)} then ${value} end) virtual invisible`.execute(db)
        }
        cols.push(sql.id(name))
      }
    } else {
      cols = index.columns.map(indexedColumn)
    }
    await sql`create ${index.unique ? sql`unique ` : sql``}index ${sql.id(index.name)} on ${table} (${sql.join(cols)})`.execute(db)
  },
  async dropIndex(db, index) {
    // MySQL has no DROP INDEX IF EXISTS: ask information_schema first.
    if (await has(db, 'statistics', index.table, 'index_name', index.name)) {
      await sql`drop index ${sql.id(index.name)} on ${sql.table(index.table)}`.execute(db)
    }
    for (let i = 0; index.where.length && i < index.columns.length; i++) {
      const name = shadowColumn(index, i)
      if (await has(db, 'columns', index.table, 'column_name', name)) await db.schema.alterTable(index.table).dropColumn(name).execute()
    }
  },

  arrayElements: (j, a) => ({
    from: sql`json_table(coalesce(${j}, '[]'), '$[*]' columns (v longtext character set utf8mb4 collate utf8mb4_bin path '$')) as ${sql.id(a)}`,
    v: sql.ref(`${a}.v`),
  }),
  arrayLength: (j) => sql<number>`coalesce(json_length(${j}), 0)`,
  asText: (e) => sql<string>`cast(${e} as char)`,
  // NB: utf8mb4_bin pads with spaces, so 'x' = 'x ' there: compare binary strings.
  exactText: (e) => sql`cast(${e} as binary)`,
  asNumber: (e) => sql<number>`(${e} + 0.0)`,
  random: () => sql`rand()`,
  // MySQL reads `\\` in literals as one backslash.
  likeEscape: sql.raw(`'\\\\'`),
  likeLower: (e) => sql`lower(${e})`,
  // NB: json_unquote turns a JSON null into the text 'null': map it to NULL as the others do.
  jsonExtract: (j, path) =>
    sql`(case when json_type(json_extract(${j}, ${jsonPath(path)})) = 'NULL' then null else json_unquote(json_extract(${j}, ${jsonPath(path)})) end)`,
  strftime: (time, format, modifiers) => strftimeFromKit(dates, time, format.pieces, modifiers.parsed),
}
