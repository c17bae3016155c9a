import type { Kysely, Migration } from 'kysely'
import { ddlProfileOf, ROWID_COLUMN } from '../../records/columns.ts'

/**
 * The `@rowid` column on record tables made before it existed (PostgreSQL, MariaDB; SQLite has
 * its own rowid). Rows already there are numbered in the order the engine reads them, which is
 * insertion order on PostgreSQL for a table without updates, and primary-key order on MariaDB.
 */
export const rowid: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const spec = ddlProfileOf(db).rowid
    if (!spec) return
    const tables = await db.selectFrom('_collections').select('name').where('type', '!=', 'view').execute()
    const existing = await db.introspection.getTables()
    for (const { name } of tables as { name: string }[]) {
      const table = existing.find((t) => t.name === name)
      if (!table || table.columns.some((c) => c.name === ROWID_COLUMN)) continue
      await db.schema.alterTable(name).addColumn(ROWID_COLUMN, spec.type, spec.build).execute()
    }
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    if (!ddlProfileOf(db).rowid) return
    const tables = await db.selectFrom('_collections').select('name').where('type', '!=', 'view').execute()
    for (const { name } of tables as { name: string }[]) await db.schema.alterTable(name).dropColumn(ROWID_COLUMN).execute()
  },
}
