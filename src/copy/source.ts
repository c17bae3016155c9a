/**
 * Where a copy reads from: a live database (read inside one snapshot transaction, so every table
 * is taken at the same instant while the deployment keeps serving) or a dump (dump.ts). Both hand
 * out the same thing: the migrations applied, the collections, the tables and their rows as
 * neutral values, page by page.
 */
import { sql } from 'kysely'
import type { AnyDb } from '../sql/dialect.ts'
import type { SqlEngine } from '../sql/sql.ts'
import type { Collection } from '../records/model.ts'
import { planTables, readCollections, readTable, type TablePlan } from './tables.ts'

export interface CopySource {
  /** For messages: the source's URL (masked) or file. */
  readonly label: string
  /** The names in the source's `_plinth_migrations`. */
  readonly migrations: string[]
  readonly collections: Collection[]
  readonly tables: TablePlan[]
  /** Rows per table (for the progress bar and the final check). */
  readonly counts: ReadonlyMap<string, number>
  /** Checksums per table known before reading (a dump's manifest): the rows read must match them. */
  readonly checksums?: ReadonlyMap<string, string>
  /** Streams one table's rows, `batch` at a time, as neutral values in `table.columns` order. */
  read(table: TablePlan, batch: number, onRows: (rows: unknown[][]) => Promise<void>): Promise<void>
}

/** Rows read per page from a database. */
export const PAGE_ROWS = 1000

/**
 * Runs `fn` over a live database inside one read transaction (REPEATABLE READ on PostgreSQL and
 * MySQL; a deferred transaction on SQLite, whose WAL gives the reader a snapshot from its first
 * read), so the copy is transaction-consistent even while nodes write. The transaction is only read.
 */
export async function withDatabaseSource<T>(engine: SqlEngine, label: string, fn: (source: CopySource) => Promise<T>): Promise<T> {
  const run = (db: AnyDb) =>
    db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const collections = await readCollections(trx)
        const migrations = ((await trx.selectFrom('_plinth_migrations').select('name').orderBy('name').execute()) as { name: string }[]).map((r) => r.name)
        const tables = await planTables(trx, collections)
        const counts = new Map<string, number>()
        for (const t of tables) {
          const [row] = (await sql<{ n: unknown }>`select count(*) as n from ${sql.table(t.name)}`.execute(trx)).rows
          counts.set(t.name, Number(row?.n ?? 0))
        }
        return fn({ label, migrations, collections, tables, counts, read: (table, batch, onRows) => readTable(trx, engine, table, batch, onRows) })
      })
  // A copy of a big table reads for longer than a request's statement timeout allows in total.
  return engine.capabilities.concurrentConnections ? engine.withoutStatementTimeout(run) : run(engine.db)
}
