import { MysqlAdapter, PostgresAdapter, sql, type ColumnDefinitionBuilder, type Expression, type Kysely, type RawBuilder } from 'kysely'
import type { SqlCapabilities } from '../sql/sql.ts'
import { isMulti, type Field } from './model.ts'

/**
 * The DDL for record tables on each SQL engine, following the storage conventions in model.ts.
 *
 * The profile is chosen by the engine's JSON capability, the one capability that already names
 * the SQL family (SQLite JSON1 / PostgreSQL JSONB / MySQL JSON); everything else is a flag here,
 * so feature code never tests an engine's name.
 *
 * MySQL/MariaDB choices:
 * - `id` is `varchar(255)` (a TEXT column cannot be a primary key); other text columns are TEXT
 *   (a table of many varchar(5000) columns would pass MySQL's 64 KB row limit).
 * - TEXT/JSON columns take expression defaults `('')` / `('[]')`, which MySQL 8.0.13+ and
 *   MariaDB 10.2+ accept (MySQL rejects literal defaults on TEXT).
 * - Indexes on TEXT/JSON-stored columns use a 191-character prefix (`col(191)`), so a composite
 *   index stays under InnoDB's 3072-byte key limit in utf8mb4. NB: a UNIQUE index then compares only
 *   the first 191 characters: two values sharing that prefix collide.
 * - No partial indexes: `WHERE` on an index is emulated by invisible generated columns (see indexes.ts).
 */
export interface DdlProfile {
  readonly text: RawBuilder<unknown>
  readonly primaryKey: RawBuilder<unknown>
  readonly number: RawBuilder<unknown>
  readonly bool: RawBuilder<unknown>
  readonly json: RawBuilder<unknown>
  /** TEXT/JSON defaults must be written as expressions: `('')`. */
  readonly expressionDefaults: boolean
  /** Characters of a TEXT column an index may cover; 0 = the whole value. */
  readonly textIndexPrefix: number
  readonly partialIndexes: boolean
  /** `DROP INDEX name ON table` (index names are per table). */
  readonly dropIndexOnTable: boolean
  /** Index names are unique per schema (SQLite, PostgreSQL), not per table. */
  readonly globalIndexNames: boolean
  /** `COLLATE name` in index columns is kept (SQLite's NOCASE etc.); elsewhere it is dropped. */
  readonly indexCollate: boolean
  /** For `_collections.fields` and other large JSON documents. */
  readonly bigText: RawBuilder<unknown>
  /**
   * Appended to CREATE TABLE. MySQL/MariaDB: utf8mb4 with binary collation, so `=` and sorting
   * compare text byte by byte as SQLite and PostgreSQL (C collation) do, whatever the database's
   * default (often case-insensitive) is.
   */
  readonly tableOptions?: RawBuilder<unknown>
  /**
   * The hidden insertion-order column `ROWID_COLUMN` that record tables get on engines without
   * SQLite's implicit rowid (capability `rowid: false`), so `@rowid` sorts the same everywhere.
   */
  readonly rowid?: ColumnSpec
}

/**
 * `@rowid`: SQLite's implicit rowid is reachable under this name; PostgreSQL and MariaDB tables get
 * a real column of the same name (an identity / auto-increment, so it only grows). The name is
 * reserved for fields, so it never clashes with one.
 */
export const ROWID_COLUMN = '_rowid_'

// NB: fixed type names only; nothing user-supplied reaches these raw fragments.
const profiles: Record<SqlCapabilities['json'], DdlProfile> = {
  json1: {
    text: sql`text`, primaryKey: sql`text`, number: sql`numeric`, bool: sql`boolean`, json: sql`text`,
    expressionDefaults: false, textIndexPrefix: 0, partialIndexes: true, dropIndexOnTable: false, globalIndexNames: true,
    indexCollate: true, bigText: sql`text`,
  },
  jsonb: {
    text: sql`text`, primaryKey: sql`text`, number: sql`double precision`, bool: sql`boolean`, json: sql`jsonb`,
    expressionDefaults: false, textIndexPrefix: 0, partialIndexes: true, dropIndexOnTable: false, globalIndexNames: true,
    indexCollate: false, bigText: sql`text`,
    rowid: { type: sql`bigint`, build: (c) => c.generatedByDefaultAsIdentity() },
  },
  'mysql-json': {
    text: sql`text`, primaryKey: sql`varchar(255)`, number: sql`double`, bool: sql`boolean`, json: sql`json`,
    expressionDefaults: true, textIndexPrefix: 191, partialIndexes: false, dropIndexOnTable: true, globalIndexNames: false,
    indexCollate: false, bigText: sql`mediumtext`, tableOptions: sql`default charset=utf8mb4 collate=utf8mb4_bin`,
    // Invisible: `SELECT *` (and views over it) leave it out, as SQLite leaves out its rowid.
    rowid: { type: sql`bigint`, build: (c) => c.notNull().autoIncrement().unique().modifyEnd(sql`invisible`) },
  },
}

export function ddlProfile(capabilities: SqlCapabilities): DdlProfile {
  return profiles[capabilities.json]
}

/** How a field is stored. */
export type StorageKind = 'text' | 'number' | 'bool' | 'json' | 'json-array' | 'geo-point' | 'primary-key'

export function storageKind(field: Field): StorageKind {
  if (field.type === 'text' && field.primaryKey) return 'primary-key'
  if (isMulti(field)) return 'json-array'
  switch (field.type) {
    case 'number':
      return 'number'
    case 'bool':
      return 'bool'
    case 'json':
      return 'json'
    case 'geoPoint':
      return 'geo-point'
    default:
      return 'text'
  }
}

export interface ColumnSpec {
  type: Expression<unknown>
  build: (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder
}

/** The column type and constraints for a field, e.g. for `addColumn(name, spec.type, spec.build)`. */
export function columnSpec(field: Field, profile: DdlProfile): ColumnSpec {
  const textDefault = (value: string) => (profile.expressionDefaults ? sql`(${sql.lit(value)})` : sql.lit(value))
  switch (storageKind(field)) {
    case 'primary-key':
      return { type: profile.primaryKey, build: (c) => c.primaryKey().notNull() }
    case 'number':
      return { type: profile.number, build: (c) => c.notNull().defaultTo(0) }
    case 'bool':
      return { type: profile.bool, build: (c) => c.notNull().defaultTo(false) }
    case 'json':
      return { type: profile.json, build: (c) => c }
    case 'json-array':
      return { type: profile.json, build: (c) => c.notNull().defaultTo(textDefault('[]')) }
    case 'geo-point':
      return { type: profile.json, build: (c) => c.notNull().defaultTo(textDefault('{"lon":0,"lat":0}')) }
    case 'text':
      return { type: profile.text, build: (c) => c.notNull().defaultTo(textDefault('')) }
  }
}

/** Whether an index on this column needs the engine's TEXT prefix length. */
export function needsIndexPrefix(field: Field | undefined, profile: DdlProfile): boolean {
  if (!profile.textIndexPrefix || !field) return false
  const kind = storageKind(field)
  return kind === 'text' || kind === 'json' || kind === 'json-array' || kind === 'geo-point'
}

/**
 * The profile for a bare Kysely instance (migrations receive only Kysely, not the engine).
 * Kysely's dialect adapter is its own description of the dialect, so this is the one place that
 * maps it to a profile; feature code gets the profile from the engine's capabilities.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ddlProfileOf(db: Kysely<any>): DdlProfile {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof PostgresAdapter) return profiles.jsonb
  if (adapter instanceof MysqlAdapter) return profiles['mysql-json']
  return profiles.json1
}
