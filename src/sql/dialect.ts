import { sql, type ColumnDefinitionBuilder, type Expression, type Kysely, type RawBuilder } from 'kysely'
import type { SqlErrorKind } from './errors.ts'
import type { SqlCapabilities } from './sql.ts'

/**
 * The SQL dialect port: everything that differs between SQL engines, in one object per engine
 * (`src/sql/<engine>/dialect.ts`). Features (the records layer) speak only to this interface:
 * they never name an engine, test a Kysely adapter or read a driver's error code. A new engine is
 * one new folder whose dialect passes `test/contract/sql.test.ts`.
 *
 * NB: every fragment takes SQL built elsewhere (or fixed words) and returns SQL; none splices a
 * value into text. Values reach DDL only through `sql.lit` (DDL takes no bound parameters).
 */
export interface SqlDialect extends SqlCapabilities, SqlFragments, SqlDdl {
  /**
   * Sorts a driver error into one of the port's own kinds (see errors.ts); undefined for anything
   * else. The engine's guard (guard.ts) rethrows those kinds as the port's error classes.
   */
  classify(err: unknown): SqlErrorKind
  /** How this engine reports replication progress; unset where it has no replicas (SQLite). */
  readonly replication?: ReplicationSql
}

/**
 * Replication progress in the engine's own terms (PostgreSQL's WAL LSN, MariaDB's GTID), read by
 * the SQL router (router.ts) to measure replica lag and to route a client's reads to a replica
 * only once it has applied that client's last write. Each statement returns one row, column `pos`.
 */
export interface ReplicationSql {
  /** On the primary: the position its last commit reached (a commit acknowledged before this runs is at or below it). */
  readonly primaryPosition: string
  /** On a replica: the position it has applied up to; NULL on an instance that is not replicating. */
  readonly appliedPosition: string
  /** On any instance: one row, column `replicating`, true while it follows a primary (not promoted). */
  readonly isReplicating: string
  /** `pos` as a number that only grows with every commit; undefined for NULL or an empty position. */
  parse(pos: unknown): number | undefined
}

// NB: `any` is Kysely's own convention for a schema defined at run time (collections).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDb = Kysely<any>

// ---- DDL ----

/**
 * How a value is stored, whatever the engine (the records layer maps each field to one of these):
 * - `text`: text, NOT NULL, default '' (also dates, emails, relations with one value...);
 * - `number`: a double, NOT NULL, default 0; `bool`: a boolean, NOT NULL, default false;
 * - `json`: a JSON document, NULL allowed; `json-array`: a JSON array, NOT NULL, default `[]`;
 * - `geo-point`: a JSON `{"lon","lat"}` object, NOT NULL, default `{"lon":0,"lat":0}`;
 * - `primary-key`: the text primary key.
 */
export type StorageKind = 'text' | 'number' | 'bool' | 'json' | 'json-array' | 'geo-point' | 'primary-key'

/** A column's type and constraints, for `addColumn(name, spec.type, spec.build)`. */
export interface ColumnSpec {
  type: Expression<unknown>
  build: (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder
}

/**
 * `@rowid`: the hidden insertion-order column. Engines with an implicit rowid (capability `rowid`)
 * reach theirs under this name; the others give record tables a real column of this name
 * (`SqlDdl.rowidColumn`), so `@rowid` sorts the same everywhere. The name is reserved for fields.
 */
export const ROWID_COLUMN = '_rowid_'

export type IndexWhereOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'is null' | 'is not null'

/** One `column op literal` term of a partial index's WHERE (terms are joined by AND). */
export interface IndexWhereTerm {
  column: string
  op: IndexWhereOp
  value?: string | number
}

export interface IndexColumnSpec {
  name: string
  /** How the column is stored; undefined when it is no known column (treated as text where it matters). */
  kind?: StorageKind
  /** A collation name (`nocase`); kept only by engines that can (`indexCollate`). */
  collate: string
  sort: '' | 'ASC' | 'DESC'
}

/** An index, described structurally; each dialect writes its own DDL for it. */
export interface IndexSpec {
  name: string
  table: string
  unique: boolean
  columns: IndexColumnSpec[]
  where: IndexWhereTerm[]
}

/** The DDL of record tables and their indexes. */
export interface SqlDdl {
  /** The column for a storage kind. */
  column(kind: StorageKind): ColumnSpec
  /** For large documents (`_collections.fields` and the like). */
  readonly bigText: RawBuilder<unknown>
  /** Appended to CREATE TABLE (character set and collation), if the engine needs it. */
  readonly tableOptions?: RawBuilder<unknown>
  /** The hidden `ROWID_COLUMN` that tables get where the engine has no implicit rowid (capability `rowid` false). */
  readonly rowidColumn?: ColumnSpec
  /**
   * Gives an existing record table's `rowidColumn` the unique index that tables made now get with
   * it (lists without a sort read it in order and stop after a page); nothing when it has one.
   * Unset where the column always had one.
   */
  indexRowid?(db: AnyDb, table: string): Promise<void>
  /**
   * Creates the index. A partial index (`where`) works on every engine, emulated where the engine
   * has none. Safe to call again after a failed attempt left part of it behind.
   */
  createIndex(db: AnyDb, index: IndexSpec): Promise<void>
  /** Drops the index and whatever `createIndex` made for it; nothing when it is not there. */
  dropIndex(db: AnyDb, index: IndexSpec): Promise<void>
}

/** The WHERE of a partial index (or of a query over the same terms), values inlined as literals. */
export function indexWhereSql(terms: IndexWhereTerm[]): RawBuilder<unknown> {
  // NB: DDL cannot take bound parameters, so values are inlined with sql.lit (escaped; the index
  // parser refuses backslashes, which MySQL would read as escapes).
  const parts = terms.map((t) =>
    t.value === undefined ? sql`${sql.id(t.column)} ${OPS[t.op]}` : sql`${sql.id(t.column)} ${OPS[t.op]} ${sql.lit(t.value)}`,
  )
  return sql.join(parts, sql` and `)
}

const OPS: Record<IndexWhereOp, RawBuilder<unknown>> = {
  '=': sql`=`, '!=': sql`<>`, '<': sql`<`, '<=': sql`<=`, '>': sql`>`, '>=': sql`>=`,
  'is null': sql`is null`, 'is not null': sql`is not null`,
}

// ---- query fragments ----

/** A strftime format, parsed: literal text and substitutions (SQLite's letters: `Y`, `m`, `d`...). */
export type DatePiece = { lit: string; spec?: undefined } | { spec: string; lit?: undefined }
export type DateUnit = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second'
/** `start of day|month|year` or `±N unit`. */
export type DateModifier = { start: 'year' | 'month' | 'day' } | { add: number; unit: DateUnit }

/** Query fragments that differ between engines (the filter language builds on these). */
export interface SqlFragments {
  /**
   * The items of a JSON array held in `json`, as a FROM item aliased `alias` and the SQL of its
   * value. Used only directly in the FROM of a subquery (correlation works there on every engine).
   */
  arrayElements(json: RawBuilder<unknown>, alias: string): { from: RawBuilder<unknown>; v: RawBuilder<unknown> }
  arrayLength(json: RawBuilder<unknown>): RawBuilder<number>
  /** A value as text, for comparing columns of different types. */
  asText(expr: RawBuilder<unknown>): RawBuilder<string>
  /** Text to compare with `=`, `<`...: byte by byte, as SQLite and PostgreSQL (C collation) do. */
  exactText(expr: RawBuilder<unknown>): RawBuilder<unknown>
  /** A text value as a number (non-numbers become 0, NULL stays NULL, never an error). */
  asNumber(expr: RawBuilder<unknown>): RawBuilder<number>
  random(): RawBuilder<unknown>
  /** The SQL literal of a single backslash, for `LIKE ... ESCAPE`. */
  likeEscape: RawBuilder<unknown>
  /**
   * Text lower-cased for a case-insensitive `LIKE` (the filter's `~`): ASCII letters, as SQLite's
   * `lower()` does, where the engine can do it cheaply (PostgreSQL's locale-aware lower() costs
   * about three times as much per row).
   */
  likeLower(expr: RawBuilder<unknown>): RawBuilder<unknown>
  /**
   * A JSON path inside a json column (`[]`: the whole value) as text, the same on every engine:
   * strings unquoted, numbers and booleans (`true`/`false`) as their JSON text, objects and arrays
   * as JSON, JSON null and a missing path as SQL NULL. `path` segments are parameters.
   */
  jsonExtract(json: RawBuilder<unknown>, path: string[]): RawBuilder<unknown>
  /**
   * SQLite's `strftime(format, time, modifiers...)` over the text time value `time` (PocketBase's
   * `YYYY-MM-DD HH:MM:SS.sssZ` or a prefix; anything else gives NULL). `format` and `modifiers` are
   * the raw texts; `pieces` and `parsed` the same, parsed and checked by the caller.
   */
  strftime(time: RawBuilder<unknown>, format: { raw: string; pieces: DatePiece[] }, modifiers: { raw: string[]; parsed: DateModifier[] }): RawBuilder<string>
}

/** A JSON path in the `$."a"[0]` form SQLite and MySQL read. */
export const jsonPath = (path: string[]) => '$' + path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `."${p.replaceAll('"', '')}"`)).join('')
