import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../dialect.ts'

/** The audit log's table (src/api/audit.ts). */
export const AUDIT_TABLE = '_audit'

/**
 * `_audit`: one row per superuser action or security failure: when (`created`, epoch ms), what
 * (`action`, `method`, `path`, `status`, `data` as JSON), who (`actor`: `collection:recordId`,
 * empty for a guest) and from where (`ip`). One index serves both the newest-first reading and
 * the retention delete.
 */
export function auditMigration(dialect: SqlDialect): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      await db.schema
        .createTable(AUDIT_TABLE)
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('action', 'varchar(64)', (c) => c.notNull())
        .addColumn('actor', 'varchar(600)', (c) => c.notNull())
        .addColumn('ip', 'varchar(64)', (c) => c.notNull())
        .addColumn('method', 'varchar(16)', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('data', dialect.bigText, (c) => c.notNull())
        .execute()
      await db.schema.createIndex('idx__audit_created').on(AUDIT_TABLE).column('created').execute()
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      await db.schema.dropTable(AUDIT_TABLE).execute()
    },
  }
}
