/**
 * Where a copy writes: a live database, made to hold exactly the source's content. The target is
 * migrated (so every system table exists), emptied (views and record tables dropped, system
 * tables' rows deleted), given the source's record tables from their collections' definitions in
 * its own dialect, then filled table by table, each table in one transaction, and read back to
 * verify its row count and checksum.
 */
import { sql } from 'kysely'
import type { AnyDb } from '../sql/dialect.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { migrate } from '../sql/migrate.ts'
import { systemMigrations } from '../records/collections/migrations.ts'
import { createRecordTable, createView, dropRecordTable, dropView } from '../records/collections/schema-sync.ts'
import type { Collection } from '../records/model.ts'
import { readCollections, readTable, SKIPPED_TABLES, type TablePlan } from './tables.ts'
import { TableChecksum } from './values.ts'
import type { CopySource } from './source.ts'

/** Tables on the target now (views included); 0 means empty. */
export async function tableCount(engine: SqlEngine): Promise<number> {
  return (await engine.db.introspection.getTables()).length
}

/** Checks that the source's migrations are exactly the ones this version of Plinth has. */
export function checkMigrations(source: Pick<CopySource, 'label' | 'migrations'>, engine: SqlEngine): string | undefined {
  const known = Object.keys(systemMigrations(engine.dialect)).sort()
  const have = [...source.migrations].sort()
  const missing = known.filter((m) => !have.includes(m))
  const unknown = have.filter((m) => !known.includes(m))
  if (unknown.length) return `${source.label} has migrations this Plinth does not know (${unknown.join(', ')}): run a Plinth at least as new as the one that wrote it`
  if (missing.length) return `${source.label} lacks migrations ${missing.join(', ')}: run "plinth migrate" on it first`
  return undefined
}

/** Drops views until none is left (a view may depend on another, so some drops wait a pass). */
async function dropViews(db: AnyDb): Promise<void> {
  for (let pass = 0; pass < 20; pass++) {
    const views = (await db.introspection.getTables()).filter((t) => t.isView)
    if (!views.length) return
    for (const v of views) await dropView(db, v.name).catch(() => undefined)
  }
  throw new Error('db copy: could not drop the target\'s views')
}

/**
 * Migrates the target and empties it: afterwards it has every system table, no rows in them, and
 * no record table or view. NB: destroys the target's content; callers check `--force` first.
 */
export async function resetTarget(engine: SqlEngine): Promise<void> {
  await migrate(engine, systemMigrations(engine.dialect))
  await engine.withoutStatementTimeout(async (db) => {
    await dropViews(db)
    for (const c of await readCollections(db)) if (c.type !== 'view') await dropRecordTable(db, c)
    for (const t of await db.introspection.getTables()) {
      if (!t.isView && !SKIPPED_TABLES.has(t.name)) await sql`delete from ${sql.table(t.name)}`.execute(db)
    }
  })
}

/** Creates the record tables of the source's collections (views come after the data: `createViews`). */
export async function createTables(engine: SqlEngine, collections: Collection[]): Promise<void> {
  await engine.withoutStatementTimeout(async (db) => {
    for (const c of collections) if (c.type !== 'view') await createRecordTable(db, engine.dialect, c)
  })
}

/** Creates the views of view collections, in passes so a view over another waits for it. */
export async function createViews(engine: SqlEngine, collections: Collection[]): Promise<void> {
  let pending = collections.filter((c) => c.type === 'view')
  let lastError: unknown
  while (pending.length) {
    const failed: Collection[] = []
    for (const c of pending) {
      try {
        await createView(engine.db, c.name, c.viewQuery ?? '')
      } catch (err) {
        lastError = err
        failed.push(c)
      }
    }
    if (failed.length === pending.length) throw new Error(`db copy: view ${failed.map((c) => c.name).join(', ')} cannot be created on ${engine.name}: ${(lastError as Error).message}`)
    pending = failed
  }
}

/** The source's columns the target table has too; the others are named in `dropped`. */
export async function targetColumns(engine: SqlEngine, table: TablePlan): Promise<{ plan: TablePlan; dropped: string[] } | undefined> {
  const live = (await engine.db.introspection.getTables()).find((t) => t.name === table.name && !t.isView)
  if (!live) return undefined
  const names = new Set(live.columns.map((c) => c.name))
  return { plan: { ...table, columns: table.columns.filter((c) => names.has(c.name)) }, dropped: table.columns.filter((c) => !names.has(c.name)).map((c) => c.name) }
}

/** A table's row count and checksum, read back page by page through `db` (a transaction's, to see its own writes). */
export async function checksumIn(db: AnyDb, engine: SqlEngine, table: TablePlan, batch: number): Promise<{ rows: number; checksum: string }> {
  const sum = new TableChecksum(table.columns.map((c) => c.kind))
  await readTable(db, engine, table, batch, async (rows) => rows.forEach((r) => sum.add(r)))
  return { rows: sum.rows, checksum: sum.hex() }
}
