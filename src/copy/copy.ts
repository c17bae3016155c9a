/**
 * The copy engine behind `plinth db copy`, backups and restores: everything a source holds
 * (source.ts: a live database or a dump) into a live database of any engine, verified.
 *
 * Guarantees: the source is read in one snapshot; the target ends with exactly the source's system
 * rows, collections, record tables (made in the target's own dialect), records and views; each
 * table is filled in one transaction; afterwards every table is read back and its row count and
 * checksum (values.ts) must equal the source's before it commits, or the copy fails naming the table. Not atomic as a
 * whole: a copy that stops halfway leaves a partial target, which running it again with `--force`
 * replaces (it empties the target first).
 */
import { sql } from 'kysely'
import type { SqlEngine } from '../sql/sql.ts'
import type { CopySource } from './source.ts'
import { insertRows } from './tables.ts'
import { checkMigrations, checksumIn, createTables, createViews, resetTarget, targetColumns } from './target.ts'
import { TableChecksum } from './values.ts'

export interface TableReport {
  name: string
  rows: number
  checksum: string
}

export interface CopyReport {
  tables: TableReport[]
  /** Rows copied in all. */
  rows: number
  /** Things skipped, one line each (a source table the target has no place for). */
  notes: string[]
}

export interface CopyHooks {
  /** Rows per page (default 1000). */
  batch?: number
  /** Called once the source's row count is known (for a progress bar). */
  onTotal?(rows: number): void
  /** Called as each page of rows is written. */
  onRows?(table: string, rows: number): void
  /** Called once every table is copied and verified, before the views are made. */
  onVerify?(): void
}

/** A copy that cannot be done as asked (source not migrated, a checksum that differs). */
export class CopyError extends Error {
  override name = 'CopyError'
}

/** Copies everything `source` holds into `target`, replacing its content. NB: callers check that the target may be overwritten. */
export async function copyInto(source: CopySource, target: SqlEngine, hooks: CopyHooks = {}): Promise<CopyReport> {
  const batch = hooks.batch ?? 1000
  const problem = checkMigrations(source, target)
  if (problem) throw new CopyError(problem)
  hooks.onTotal?.([...source.counts.values()].reduce((a, b) => a + b, 0))
  await resetTarget(target)
  await createTables(target, source.collections)
  const notes: string[] = []
  const tables: TableReport[] = []
  for (const table of source.tables) {
    const there = await targetColumns(target, table)
    if (!there) {
      notes.push(`table ${table.name} has no counterpart on the target (not made by Plinth's migrations): skipped`)
      continue
    }
    if (there.dropped.length) notes.push(`table ${table.name}: columns ${there.dropped.join(', ')} are not on the target: skipped`)
    const plan = there.plan
    const keep = plan.columns.map((c) => table.columns.indexOf(c))
    const sum = new TableChecksum(plan.columns.map((c) => c.kind))
    // One transaction per table (truncate-then-copy), verified before it commits: a table that
    // does not read back as written is rolled back. REPEATABLE READ: rows another writer commits
    // meanwhile (this node's audit log during a restore) are not in what the check reads back.
    await target.withoutStatementTimeout((db) =>
      db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (trx) => {
          // Emptied again inside the transaction: rows a live node wrote since the reset (its
          // audit log during a restore) go too, and its writes wait for the commit (the delete's
          // locks) or stay outside this snapshot. The read fixes the snapshot now (InnoDB takes it
          // at the first read, not at BEGIN).
          await sql`delete from ${sql.table(plan.name)}`.execute(trx)
          await sql`select count(*) as n from ${sql.table(plan.name)}`.execute(trx)
          await source.read(table, batch, async (rows) => {
            const projected = there.dropped.length ? rows.map((r) => keep.map((i) => r[i])) : rows
            for (const r of projected) sum.add(r)
            await insertRows(trx, plan, projected, target.capabilities.nativeBoolean)
            hooks.onRows?.(table.name, rows.length)
          })
          const back = await checksumIn(trx, target, plan, batch)
          if (back.rows !== sum.rows) throw new CopyError(`table ${plan.name}: the source has ${sum.rows} rows, the target ${back.rows}`)
          if (back.checksum !== sum.hex()) throw new CopyError(`table ${plan.name}: checksums differ (source ${sum.hex().slice(0, 16)}, target ${back.checksum.slice(0, 16)})`)
        }),
    )
    const expected = source.counts.get(plan.name)
    if (expected !== undefined && expected !== sum.rows) throw new CopyError(`table ${plan.name}: counted ${expected} rows on the source but read ${sum.rows}`)
    const promised = source.checksums?.get(plan.name)
    if (promised !== undefined && !there.dropped.length && promised !== sum.hex()) throw new CopyError(`table ${plan.name}: the rows read do not match the checksum recorded with them (a damaged dump?)`)
    tables.push({ name: plan.name, rows: sum.rows, checksum: sum.hex() })
  }
  hooks.onVerify?.()
  await createViews(target, source.collections)
  return { tables, rows: tables.reduce((n, t) => n + t.rows, 0), notes }
}
