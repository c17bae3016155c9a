import type { SqlDdl } from '../../sql/dialect.ts'
import { nowDate, type Collection } from '../model.ts'
import { collectionToRow, rowToCollection, type CollectionRow } from './serialize.ts'
import { contractRecordTable, createView, dropRecordTable, dropView, liveColumns, undoSync, type Db, type OnPhase, type SyncPhase } from './schema-sync.ts'

/**
 * The schema journal: how a collection change stays consistent where DDL is not transactional
 * (MySQL/MariaDB commit each DDL statement by itself).
 *
 * Before the first statement, one row records the collection's id, its definition before (`prev`)
 * and after (`next`) and the step reached (`begin`, then each `SyncPhase` as it starts). Every step
 * until `contract` can be undone (schema-sync.ts). The `_collections` row is written in the same
 * (DML, so transactional) transaction that moves the journal to `contract`: from then on the
 * change is done and only its clean-up (dropping what `next` no longer has) is left. So:
 * - a failure before `contract` is undone at once (`undoChange`) and the journal row removed;
 * - a failure during the clean-up leaves `next` in force and a few unused columns behind;
 * - whatever a crash or a failed undo left is settled by `settle`: on the store's next start
 *   and before its next change. Before `contract` the table goes back to `prev` (which
 *   `_collections` still holds); at `contract` the clean-up is finished.
 */

export const JOURNAL_TABLE = '_plinth_schema_journal'

export type JournalStep = 'begin' | SyncPhase

export interface JournalEntry {
  /** The collection's id. */
  id: string
  /** The definition before the change; undefined when it creates the collection. */
  prev?: Collection
  /** The definition after it; undefined when it deletes the collection. */
  next?: Collection
  step: JournalStep
}

interface JournalRow {
  id: string
  prev: string | null
  next: string | null
  step: string
  created: string
}

export async function createJournalTable(db: Db, ddl: SqlDdl): Promise<void> {
  await db.schema
    .createTable(JOURNAL_TABLE)
    .addColumn('id', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('prev', ddl.bigText)
    .addColumn('next', ddl.bigText)
    .addColumn('step', 'varchar(32)', (c) => c.notNull())
    .addColumn('created', 'varchar(32)', (c) => c.notNull())
    .execute()
}

const encode = (c: Collection | undefined) => (c ? JSON.stringify(collectionToRow(c)) : null)
const decode = (text: string | null) => (text ? rowToCollection(JSON.parse(text) as CollectionRow) : undefined)

export async function beginChange(db: Db, entry: Omit<JournalEntry, 'step'>): Promise<void> {
  const row: JournalRow = { id: entry.id, prev: encode(entry.prev), next: encode(entry.next), step: 'begin', created: nowDate() }
  await db.insertInto(JOURNAL_TABLE).values(row).execute()
}

export async function markChange(db: Db, id: string, step: JournalStep): Promise<void> {
  await db.updateTable(JOURNAL_TABLE).set({ step }).where('id', '=', id).execute()
}

export async function endChange(db: Db, id: string): Promise<void> {
  await db.deleteFrom(JOURNAL_TABLE).where('id', '=', id).execute()
}

export async function pendingChanges(db: Db): Promise<JournalEntry[]> {
  const rows = (await db.selectFrom(JOURNAL_TABLE).selectAll().orderBy('created').execute()) as JournalRow[]
  return rows.map((r) => ({ id: r.id, prev: decode(r.prev), next: decode(r.next), step: r.step as JournalStep }))
}

/** Brings the schema back to `prev` from wherever a change stopped before `contract`. Safe to repeat. */
export async function undoChange(db: Db, ddl: SqlDdl, e: JournalEntry): Promise<void> {
  const { prev, next } = e
  if (!next) return // a deletion changes nothing before `contract`
  if (next.type === 'view') {
    // Dropping the view of the same name that `prev` had is fine: it is made again just below.
    await dropView(db, next.name)
    if (prev?.type === 'view' && prev.viewQuery && !(await liveColumns(db, prev.name))) await createView(db, prev.name, prev.viewQuery)
    return
  }
  if (!prev) return dropRecordTable(db, next)
  if (e.step !== 'begin') await undoSync(db, ddl, next, prev, e.step)
}

/** Finishes a change that reached `contract`: drops what `next` no longer has. Safe to repeat. */
export async function completeChange(db: Db, e: JournalEntry): Promise<void> {
  const { prev, next } = e
  if (!next) {
    if (prev?.type === 'view') await dropView(db, prev.name)
    else if (prev) await dropRecordTable(db, prev)
    return
  }
  if (prev && next.type !== 'view') await contractRecordTable(db, next, prev)
}

/**
 * Settles every change a crash or a failed undo left in the journal, oldest first: undone when it
 * stopped before `contract`, finished when it reached it. Returns what it did, for the log.
 */
export async function settle(db: Db, ddl: SqlDdl): Promise<{ entry: JournalEntry; action: 'undone' | 'completed' }[]> {
  const done: { entry: JournalEntry; action: 'undone' | 'completed' }[] = []
  for (const entry of await pendingChanges(db)) {
    const completed = entry.step === 'contract'
    if (completed) await completeChange(db, entry)
    else await undoChange(db, ddl, entry)
    await endChange(db, entry.id)
    done.push({ entry, action: completed ? 'completed' : 'undone' })
  }
  return done
}


/** What a journaled change needs from the store. */
export interface JournaledChangeSteps {
  /** Changes the table (or view) to `next`, calling `onPhase` as each phase starts; not called for a deletion. */
  apply(onPhase: OnPhase): Promise<void>
  /** Writes (or deletes) the `_collections` row, on the transaction given. */
  writeRow(trx: Db): Promise<void>
  /** Test-only fault injection (see CollectionStoreOptions.failStep). */
  failStep(step: string): void
  log(message: string, detail: Record<string, unknown>): void
}

/**
 * Runs one collection change under the journal (see the top of this file). Throws what failed
 * before the point of no return, after undoing it (or, if the undo fails too, leaving it to
 * `settle`); a failed clean-up after it is only logged, the change being in force.
 */
export async function journaledChange(db: Db, ddl: SqlDdl, entry: JournalEntry, steps: JournaledChangeSteps): Promise<void> {
  const name = (entry.next ?? entry.prev)?.name
  await beginChange(db, entry)
  if (entry.next) {
    try {
      await steps.apply(async (p) => {
        entry.step = p
        await markChange(db, entry.id, p)
        steps.failStep(p)
      })
    } catch (err) {
      try {
        steps.failStep('undo')
        await undoChange(db, ddl, entry)
        await endChange(db, entry.id)
      } catch (undoErr) {
        steps.log(`a failed change of collection ${name} could not be undone yet; it will be on the next start`, { collection: entry.id, step: entry.step, error: String(undoErr) })
      }
      throw err
    }
  }
  // The point of no return: the definition and the journal's `contract` commit together (DML).
  await db.transaction().execute(async (trx) => {
    await steps.writeRow(trx)
    await markChange(trx, entry.id, 'contract')
  })
  try {
    steps.failStep('clean-up')
    await completeChange(db, entry)
    await endChange(db, entry.id)
  } catch (err) {
    // The change is in force; only unused columns (or the dropped table) are left behind.
    steps.log(`the clean-up after a change of collection ${name} failed; it will be finished on the next start`, { collection: entry.id, error: String(err) })
  }
}
