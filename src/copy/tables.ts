/**
 * What a deployment's database holds, table by table, for copying it: the system tables (found by
 * introspection) and the collections' record tables (described by `_collections`), each with its
 * columns' value kinds and the unique key its rows are paged by.
 */
import { sql } from 'kysely'
import type { AnyDb } from '../sql/dialect.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { ROWID_COLUMN, storageKind } from '../records/columns.ts'
import type { Collection } from '../records/model.ts'
import { rowToCollection, type CollectionRow } from '../records/collections/serialize.ts'
import { bindValue, canon, kindOfType, type ValueKind } from './values.ts'

export interface ColumnPlan {
  name: string
  kind: ValueKind
}

export interface TablePlan {
  name: string
  /** A collection's record table (made from its definition on the target), else a system table (made by migrations). */
  collection: boolean
  columns: ColumnPlan[]
}

/** Tables never copied: the migration lock is each database's own. */
export const SKIPPED_TABLES = new Set(['_plinth_migrations_lock'])

/** The unique key of system tables that have no `id` column (others: `id`). */
const KEYS: Record<string, string> = { _keys: 'kid', _plinth_migrations: 'name' }

/** Columns that engines make themselves: the hidden @rowid and MySQL's partial-index stand-ins. */
const generated = (name: string) => name === ROWID_COLUMN || name.startsWith('_pidx_')

/** The collections as `_collections` holds them, in creation order. */
export async function readCollections(db: AnyDb): Promise<Collection[]> {
  const rows = (await db.selectFrom('_collections').selectAll().orderBy('created').orderBy('id').execute()) as CollectionRow[]
  return rows.map(rowToCollection)
}

/** The columns of a collection's record table, from its fields. */
export function collectionColumns(c: Collection): ColumnPlan[] {
  return c.fields.map((f) => {
    const kind = storageKind(f)
    return { name: f.name, kind: kind === 'number' ? 'float' : kind === 'bool' ? 'bool' : kind === 'json' || kind === 'json-array' || kind === 'geo-point' ? 'json' : 'text' }
  })
}

/** Every table to copy from a live database: system tables first, then record tables. */
export async function planTables(db: AnyDb, collections: Collection[]): Promise<TablePlan[]> {
  const live = (await db.introspection.getTables()).filter((t) => !t.isView)
  const recordTables = new Set(collections.filter((c) => c.type !== 'view').map((c) => c.name))
  const system: TablePlan[] = live
    .filter((t) => !recordTables.has(t.name) && !SKIPPED_TABLES.has(t.name))
    .map((t) => ({ name: t.name, collection: false, columns: t.columns.filter((c) => !generated(c.name)).map((c) => ({ name: c.name, kind: kindOfType(c.dataType) })) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const records = collections.filter((c) => c.type !== 'view' && live.some((t) => t.name === c.name)).map((c) => ({ name: c.name, collection: true, columns: collectionColumns(c) }))
  return [...system, ...records]
}

/**
 * The column rows are paged by: the rowid where the engine has one (SQLite; also insertion order),
 * the hidden @rowid column of record tables elsewhere (so the target gets rows in the source's
 * insertion order, which `@rowid` sorts by), else the table's key.
 */
export function pageKey(engine: SqlEngine, table: TablePlan): string {
  if (engine.capabilities.rowid || table.collection) return ROWID_COLUMN
  if (KEYS[table.name]) return KEYS[table.name]!
  return table.columns.some((c) => c.name === 'id') ? 'id' : table.columns[0]!.name
}

/**
 * Reads a table in pages of `batch` rows ordered by its key (never the whole table at once),
 * handing each page to `onRows` as neutral values in `table.columns` order. Reads through `db`,
 * so inside a transaction every page comes from one snapshot.
 */
export async function readTable(db: AnyDb, engine: SqlEngine, table: TablePlan, batch: number, onRows: (rows: unknown[][]) => Promise<void>): Promise<void> {
  const key = pageKey(engine, table)
  const cols = sql.join(table.columns.map((c) => sql.id(c.name)))
  let last: unknown
  for (;;) {
    const where = last === undefined ? sql`` : sql`where ${sql.id(key)} > ${last}`
    // NB: identifiers only through sql.id; the one value (the last key) is a parameter.
    const { rows } = await sql<Record<string, unknown>>`select ${sql.id(key)} as ${sql.id('__plinth_key')}, ${cols} from ${sql.table(table.name)} ${where} order by ${sql.id(key)} limit ${sql.lit(batch)}`.execute(db)
    if (!rows.length) return
    last = rows.at(-1)!.__plinth_key
    await onRows(rows.map((r) => table.columns.map((c) => canon(c.kind, r[c.name]))))
    if (rows.length < batch) return
  }
}

/** Parameters per statement kept under every engine's limit (SQLite: 32766, PostgreSQL and MySQL: 65535). */
const MAX_PARAMS = 30_000

/** Inserts neutral rows, several per statement. */
export async function insertRows(db: AnyDb, table: TablePlan, rows: unknown[][], nativeBoolean: boolean): Promise<void> {
  const per = Math.max(1, Math.min(1000, Math.floor(MAX_PARAMS / Math.max(1, table.columns.length))))
  for (let i = 0; i < rows.length; i += per) {
    const values = rows.slice(i, i + per).map((row) => {
      const o: Record<string, unknown> = {}
      table.columns.forEach((c, j) => (o[c.name] = bindValue(c.kind, row[j] ?? null, nativeBoolean)))
      return o
    })
    await db.insertInto(table.name).values(values).execute()
  }
}
