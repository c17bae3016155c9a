import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../../sql/dialect.ts'
import { sqlMigrations } from '../../sql/migrations/index.ts'
import { jobsMigration } from '../../sql/migrations/0006-jobs.ts'
import { auditMigration } from '../../sql/migrations/0010-audit.ts'
import { keysDevicesMigration } from '../../sql/migrations/0009-keys-devices.ts'
import { pushMigration } from '../../sql/migrations/0013-push.ts'
import { settingsMigration } from '../../sql/migrations/0014-settings.ts'
import { devicesSlotMigration } from '../../sql/migrations/0015-devices-slot.ts'
import { ROWID_COLUMN } from '../columns.ts'
import { assignFieldIds } from '../fields/definition.ts'
import { authSystemMigration } from './auth-system.ts'
import { usersPhoneMigration } from './users-phone.ts'
import { imMigration } from './im-system.ts'
import { superusersCollection, usersCollection } from './defaults.ts'
import { createJournalTable, JOURNAL_TABLE } from './schema-journal.ts'
import { createRecordTable, dropRecordTable } from './schema-sync.ts'
import { collectionToRow } from './serialize.ts'

// NB: `any` is Kysely's convention for a schema known only at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

/**
 * `_collections` (one row per collection, PocketBase's JSON in text columns) and the default
 * collections PocketBase starts with: `_superusers` (system) and `users`, with their tables.
 * Each gets fresh random token secrets here.
 */
function collections(dialect: SqlDialect): Migration {
  return {
    async up(db: Db) {
      await db.schema
        .createTable('_collections')
        .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('type', 'varchar(16)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)', (c) => c.notNull().unique())
        .addColumn('system', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('fields', dialect.bigText, (c) => c.notNull())
        .addColumn('indexes', dialect.bigText, (c) => c.notNull())
        .addColumn('listRule', 'text')
        .addColumn('viewRule', 'text')
        .addColumn('createRule', 'text')
        .addColumn('updateRule', 'text')
        .addColumn('deleteRule', 'text')
        .addColumn('options', dialect.bigText, (c) => c.notNull())
        .addColumn('created', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated', 'varchar(32)', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('idx__collections_type').on('_collections').column('type').execute()
      for (const c of [superusersCollection(), usersCollection()]) {
        assignFieldIds(c.fields)
        await createRecordTable(db, dialect, c)
        await db.insertInto('_collections').values(collectionToRow(c)).execute()
      }
    },
    async down(db: Db) {
      for (const c of [usersCollection(), superusersCollection()]) await dropRecordTable(db, c)
      await db.schema.dropTable('_collections').execute()
    },
  }
}

/**
 * The `@rowid` column on record tables made before it existed (engines without an implicit
 * rowid). Rows already there are numbered in the order the engine reads them: insertion order on
 * PostgreSQL for a table without updates, primary-key order on MariaDB.
 */
export function rowidMigration(dialect: SqlDialect): Migration {
  return {
    async up(db: Db) {
      const spec = dialect.rowidColumn
      if (!spec) return
      const tables = await db.selectFrom('_collections').select('name').where('type', '!=', 'view').execute()
      const existing = await db.introspection.getTables()
      for (const { name } of tables as { name: string }[]) {
        const table = existing.find((t) => t.name === name)
        if (!table || table.columns.some((c) => c.name === ROWID_COLUMN)) continue
        await db.schema.alterTable(name).addColumn(ROWID_COLUMN, spec.type, spec.build).execute()
      }
    },
    async down(db: Db) {
      if (!dialect.rowidColumn) return
      const tables = await db.selectFrom('_collections').select('name').where('type', '!=', 'view').execute()
      for (const { name } of tables as { name: string }[]) await db.schema.alterTable(name).dropColumn(ROWID_COLUMN).execute()
    },
  }
}

/** The unique index on `@rowid` for record tables made before their engine's column had one (dialect.indexRowid). */
export function rowidIndexMigration(dialect: SqlDialect): Migration {
  return {
    async up(db: Db) {
      if (!dialect.indexRowid) return
      const tables = await db.selectFrom('_collections').select('name').where('type', '!=', 'view').execute()
      const existing = new Set((await db.introspection.getTables()).map((t) => t.name))
      for (const { name } of tables as { name: string }[]) if (existing.has(name)) await dialect.indexRowid(db, name)
    },
    async down() {},
  }
}

/** `_plinth_schema_journal`: collection changes in progress where DDL is not transactional (schema-journal.ts). */
function journal(dialect: SqlDialect): Migration {
  return {
    up: (db: Db) => createJournalTable(db, dialect),
    async down(db: Db) {
      await db.schema.dropTable(JOURNAL_TABLE).execute()
    },
  }
}

/**
 * Every system migration, in order: the SQL port's own, then the records layer's. This is what
 * `migrate(engine, ...)` gets from every caller (serve, `plinth migrate`, the CLI, tests).
 * NB: the names are stored in `_plinth_migrations`: never rename one.
 */
export function systemMigrations(dialect: SqlDialect): Record<string, Migration> {
  return {
    ...sqlMigrations,
    '0002-collections': collections(dialect),
    '0003-rowid': rowidMigration(dialect),
    '0004-schema-journal': journal(dialect),
    '0005-rowid-index': rowidIndexMigration(dialect),
    '0006-jobs': jobsMigration(dialect),
    '0007-auth-system': authSystemMigration(dialect),
    '0009-keys-devices': keysDevicesMigration(dialect),
    '0010-audit': auditMigration(dialect),
    '0011-users-phone': usersPhoneMigration(dialect),
    '0012-im': imMigration(dialect),
    '0013-push': pushMigration(dialect),
    '0014-settings': settingsMigration,
    '0015-devices-slot': devicesSlotMigration(dialect),
  }
}
