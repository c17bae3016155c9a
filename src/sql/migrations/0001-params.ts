import type { Kysely, Migration } from 'kysely'

/**
 * `_params`: instance-wide settings and generated secrets, one JSON value per key.
 * Column types are the portable subset of SQLite, PostgreSQL and MySQL (MySQL cannot index TEXT).
 */
export const params: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('_params')
      .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('value', 'text')
      .addColumn('created', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated', 'varchar(32)', (c) => c.notNull())
      .execute()
  },
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async down(db: Kysely<any>) {
    await db.schema.dropTable('_params').execute()
  },
}
