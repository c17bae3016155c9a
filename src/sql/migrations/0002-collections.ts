import type { Kysely, Migration } from 'kysely'
import { ddlProfileOf } from '../../records/columns.ts'
import { superusersCollection, usersCollection } from '../../records/collections/defaults.ts'
import { createRecordTable, dropRecordTable } from '../../records/collections/schema-sync.ts'
import { collectionToRow } from '../../records/collections/serialize.ts'
import { assignFieldIds } from '../../records/fields/definition.ts'

/**
 * `_collections` (one row per collection, PocketBase's JSON in text columns) and the default
 * collections PocketBase starts with: `_superusers` (system) and `users`, with their tables.
 * Each gets fresh random token secrets here.
 */
export const collections: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    const profile = ddlProfileOf(db)
    await db.schema
      .createTable('_collections')
      .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('type', 'varchar(16)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
      .addColumn('system', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('fields', profile.bigText, (c) => c.notNull())
      .addColumn('indexes', profile.bigText, (c) => c.notNull())
      .addColumn('listRule', 'text')
      .addColumn('viewRule', 'text')
      .addColumn('createRule', 'text')
      .addColumn('updateRule', 'text')
      .addColumn('deleteRule', 'text')
      .addColumn('options', profile.bigText, (c) => c.notNull())
      .addColumn('created', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated', 'varchar(32)', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('idx__collections_type').on('_collections').column('type').execute()
    for (const c of [superusersCollection(), usersCollection()]) {
      assignFieldIds(c.fields)
      await createRecordTable(db, profile, c)
      await db.insertInto('_collections').values(collectionToRow(c)).execute()
    }
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    for (const c of [usersCollection(), superusersCollection()]) await dropRecordTable(db, c)
    await db.schema.dropTable('_collections').execute()
  },
}
