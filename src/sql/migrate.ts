import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely'
import type { SqlEngine } from './sql.ts'
import { SqlUnavailableError } from './errors.ts'

export interface MigrateResult {
  applied: string[]
}

/**
 * Applies pending migrations under a lock, so several nodes starting at once against one
 * server database apply each migration exactly once: PostgreSQL takes an advisory lock and MySQL
 * `GET_LOCK` (Kysely's Migrator does this); for a single-connection engine (SQLite), whose
 * Kysely adapter takes no lock, the whole run happens inside `BEGIN IMMEDIATE`, which holds
 * SQLite's write lock from the first statement, so a second process waits (busy_timeout).
 * Throws with the name of the migration that failed; nothing after it is applied.
 *
 * `migrations` is the whole set, in name order: the SQL port's own (`sqlMigrations`) and each
 * feature's after them (the records layer's `systemMigrations(dialect)` gives both).
 */
export async function migrate(engine: SqlEngine, migrations: Record<string, Migration>): Promise<MigrateResult> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const migrator = (db: Kysely<any>, disableTransactions = false) =>
    new Migrator({
      db,
      provider: { getMigrations: async () => migrations },
      migrationTableName: '_plinth_migrations',
      migrationLockTableName: '_plinth_migrations_lock',
      disableTransactions,
    })
  const run = async (): Promise<MigrationResultSet> => {
    // Migrations (and waiting for another node's lock) may take longer than a request's statement.
    if (engine.capabilities.concurrentConnections) return engine.withoutStatementTimeout((db) => migrator(db).migrateToLatest())
    return engine.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn)
      const result = await migrator(conn, true).migrateToLatest()
      await sql.raw(result.error ? 'rollback' : 'commit').execute(conn)
      return result
    })
  }
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await run()
    if (!error) return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) }
    // Two processes on one SQLite file: the loser of the write lock finds it busy (unavailable);
    // by the time it retries, the winner has committed and there is nothing left to apply.
    if (error instanceof SqlUnavailableError && attempt < 5) {
      await new Promise((r) => setTimeout(r, 100 * attempt))
      continue
    }
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    throw new Error(`migration ${failed ?? '(setup)'} failed on ${engine.name}: ${(error as Error).message}`, {
      cause: error,
    })
  }
}
