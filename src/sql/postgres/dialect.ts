import { sql } from 'kysely'
import { indexWhereSql, ROWID_COLUMN, type ColumnSpec, type SqlDialect, type StorageKind } from '../dialect.ts'
import { networkCode, type SqlErrorKind } from '../errors.ts'
import { strftimeFromKit, type DateKit } from '../strftime.ts'

/** PostgreSQL's error codes (SQLSTATE) that are the server's state, a value it cannot take, or a unique violation. */
export function classify(err: unknown): SqlErrorKind {
  const code = (err as { code?: unknown } | undefined)?.code
  // 23505 unique_violation.
  if (code === '23505') return 'unique_violation'
  // 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout).
  if (code === '57014' || code === '55P03') return 'timeout'
  // 22021 character_not_in_repertoire (a NUL in text), 22P05 untranslatable_character (\u0000 in jsonb).
  if (code === '22021' || code === '22P05') return 'invalid_text'
  // 53300 too_many_connections, 57P01-03 admin shutdown / crash / cannot connect now.
  if (code === '53300' || code === '57P01' || code === '57P02' || code === '57P03') return 'unavailable'
  // pg-pool's own words when no connection was free (or made) within connectionTimeoutMillis.
  if ((err as Error | undefined)?.message === 'timeout exceeded when trying to connect') return 'unavailable'
  if (/^Connection terminated/.test((err as Error | undefined)?.message ?? '')) return 'unavailable'
  // pg's words for a client whose connection already broke (the server went away mid-transaction).
  if (/^Client (has encountered a connection error|was closed) and is not queryable/.test((err as Error | undefined)?.message ?? '')) return 'unavailable'
  return networkCode(err) ? 'unavailable' : undefined
}

// NB: fixed type names only; nothing user-supplied reaches these raw fragments.
const columns: Record<StorageKind, ColumnSpec> = {
  'primary-key': { type: sql`text`, build: (c) => c.primaryKey().notNull() },
  text: { type: sql`text`, build: (c) => c.notNull().defaultTo(sql.lit('')) },
  number: { type: sql`double precision`, build: (c) => c.notNull().defaultTo(0) },
  bool: { type: sql`boolean`, build: (c) => c.notNull().defaultTo(false) },
  json: { type: sql`jsonb`, build: (c) => c },
  'json-array': { type: sql`jsonb`, build: (c) => c.notNull().defaultTo(sql.lit('[]')) },
  'geo-point': { type: sql`jsonb`, build: (c) => c.notNull().defaultTo(sql.lit('{"lon":0,"lat":0}')) },
}

const SPEC: Record<string, string> = { Y: 'YYYY', m: 'MM', d: 'DD', H: 'HH24', M: 'MI', S: 'SS', f: 'SS.MS', j: 'DDD', u: 'ID' }

const dates: DateKit = {
  int: (e) => sql`cast(${e} as integer)`,
  text: (e) => sql`cast(${e} as text)`,
  seconds: (e) => sql`cast(${e} as double precision)`,
  matches: (e, re) => sql`(${e} ~ ${re})`,
  timestamp: ({ y, mo, d, h, mi, sec }) =>
    sql`(timestamp '2000-01-01' + make_interval(years => ${y} - 2000, months => ${mo} - 1, days => ${d} - 1, hours => ${h}, mins => ${mi}, secs => ${sec}))`,
  apply: (ts, m) => ('start' in m ? sql`date_trunc(${m.start}, ${ts})` : sql`(${ts} + ${`${m.add} ${m.unit}`}::interval)`),
  spec: (ts, spec) => {
    if (spec === 'w') return sql`cast(cast(extract(dow from ${ts}) as integer) as text)`
    if (spec === 's') return sql`cast(cast(floor(extract(epoch from ${ts})) as bigint) as text)`
    return sql`to_char(${ts}, ${SPEC[spec]!})`
  },
  literal: (text) => sql`cast(${text} as text)`,
}

/**
 * PostgreSQL: JSONB, native booleans, transactional DDL, partial indexes. Index names are unique
 * per schema; collations in index columns are dropped (SQLite's names such as `nocase` are not
 * PostgreSQL's). Record tables get an identity column for `@rowid`.
 */
/** An LSN (`16/B374D848`: two 32-bit hex halves) as a number; exact up to 2^53 bytes of WAL. */
function parseLsn(pos: unknown): number | undefined {
  const m = typeof pos === 'string' ? /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(pos) : null
  return m ? parseInt(m[1]!, 16) * 2 ** 32 + parseInt(m[2]!, 16) : undefined
}

export const postgresDialect: SqlDialect = {
  returning: true,
  transactionalDdl: true,
  upsert: 'on-conflict',
  nativeBoolean: true,
  rowid: false,
  concurrentConnections: true,
  classify,
  replication: {
    // The WAL written so far: a commit is written (flushed, with synchronous_commit on) before it is acknowledged.
    primaryPosition: 'select pg_current_wal_lsn()::text as pos',
    appliedPosition: 'select pg_last_wal_replay_lsn()::text as pos',
    isReplicating: 'select pg_is_in_recovery() as replicating',
    parse: parseLsn,
  },

  column: (kind) => columns[kind],
  bigText: sql`text`,
  // Unique, so it is indexed: a list without a sort walks it in order and stops after one page.
  rowidColumn: { type: sql`bigint`, build: (c) => c.generatedByDefaultAsIdentity().unique() },
  async indexRowid(db, table) {
    const { rows } = await sql<{ n: number }>`select count(*) as n from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
      where i.indrelid = to_regclass(${sql.lit(`"${table.replaceAll('"', '""')}"`)}) and i.indisunique and i.indnatts = 1 and a.attname = ${ROWID_COLUMN}`.execute(db)
    if (Number(rows[0]?.n ?? 0) === 0) await sql`alter table ${sql.table(table)} add unique (${sql.id(ROWID_COLUMN)})`.execute(db)
  },
  async createIndex(db, index) {
    const cols = index.columns.map((col) => (col.sort ? sql`${sql.id(col.name)} ${col.sort === 'DESC' ? sql`desc` : sql`asc`}` : sql`${sql.id(col.name)}`))
    const where = index.where.length ? sql` where ${indexWhereSql(index.where)}` : sql``
    await sql`create ${index.unique ? sql`unique ` : sql``}index ${sql.id(index.name)} on ${sql.table(index.table)} (${sql.join(cols)})${where}`.execute(db)
  },
  async dropIndex(db, index) {
    await db.schema.dropIndex(index.name).ifExists().execute()
  },

  // JSON columns are jsonb; text columns holding JSON never reach here.
  arrayElements: (j, a) => ({
    from: sql`jsonb_array_elements_text(coalesce(${j}::jsonb, '[]'::jsonb)) as ${sql.id(a)}(v)`,
    v: sql.ref(`${a}.v`),
  }),
  arrayLength: (j) => sql<number>`coalesce(jsonb_array_length(${j}::jsonb), 0)`,
  asText: (e) => sql<string>`cast(${e} as text)`,
  exactText: (e) => e,
  // NB: a non-numeric text must not raise an error: guard with a regex.
  asNumber: (e) =>
    sql<number>`(case when ${e} is null then null when cast(${e} as text) ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' then cast(cast(${e} as text) as double precision) else 0 end)`,
  random: () => sql`random()`,
  likeEscape: sql.raw(`'\\'`),
  // The C collation lower-cases ASCII only, as SQLite does, and skips the locale.
  likeLower: (e) => sql`lower(${e} collate "C")`,
  jsonExtract: (j, path) => sql`(${j}::jsonb #>> ${`{${path.map((p) => p.replaceAll(/[{},"]/g, '')).join(',')}}`}::text[])`,
  strftime: (time, format, modifiers) => strftimeFromKit(dates, time, format.pieces, modifiers.parsed),
}
