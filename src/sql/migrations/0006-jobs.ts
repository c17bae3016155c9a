import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../dialect.ts'

/** The embedded job queue's table (src/jobs/sql.ts). */
export const JOBS_TABLE = '_jobs'

/**
 * `_jobs`: one row per job, kept after it finishes (completed rows for a day, so a `jobId` stays
 * idempotent; failed ones until a superuser retries or deletes them: the dead letters).
 * `runAt` is when a waiting job may run next, or when an active job's lease ends (epoch ms);
 * one index serves the claim (`name`, `state`, `runAt`).
 */
export function jobsMigration(dialect: SqlDialect): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      await db.schema
        .createTable(JOBS_TABLE)
        .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('data', dialect.bigText, (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('maxAttempts', 'integer', (c) => c.notNull())
        .addColumn('backoff', 'integer', (c) => c.notNull())
        .addColumn('runAt', 'bigint', (c) => c.notNull())
        .addColumn('lockedBy', 'varchar(64)')
        .addColumn('error', 'text')
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('updated', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('idx__jobs_claim').on(JOBS_TABLE).columns(['name', 'state', 'runAt']).execute()
      await db.schema.createIndex('idx__jobs_locked').on(JOBS_TABLE).column('lockedBy').execute()
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      await db.schema.dropTable(JOBS_TABLE).execute()
    },
  }
}
