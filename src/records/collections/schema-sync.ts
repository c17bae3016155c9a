import { sql } from 'kysely'
import { indexWhereSql, type AnyDb, type IndexSpec, type SqlDdl } from '../../sql/dialect.ts'
import { columnSpec, ROWID_COLUMN, storageKind } from '../columns.ts'
import { findField, isMulti, type Collection, type Field } from '../model.ts'
import { crc32Checksum } from '../fields/random.ts'
import { parseIndex, type IndexDefinition } from './index-definition.ts'

/**
 * Makes the real table match a collection: create, rename, add/rename/drop columns, convert
 * single <-> multi values, (re)create indexes, drop. Identifiers always go through `sql.id` /
 * `sql.table`; the only raw fragments are the dialect's fixed keywords and type names.
 *
 * A change of a table runs in phases (`SyncPhase`) whose every step can be undone until the last
 * phase, `contract`, which only drops what is no longer needed:
 * 1. `indexes-dropped`: the old indexes go (when any index or field changes);
 * 2. `renamed`: the table gets its new name;
 * 3. `moved`: every column whose field is removed, renamed or converted moves aside to a temporary
 *    name (`movedColumn`), so no new name can collide with an old one;
 * 4. `placed`: new fields are added, renamed ones moved back under their new names, converted
 *    ones added anew and filled from the moved-aside column;
 * 5. `indexed`: the new indexes are created;
 * 6. `contract`: the moved-aside columns of removed and converted fields are dropped.
 * Where DDL is transactional the caller runs all of it in one transaction. Elsewhere (no `transactionalDdl`) each
 * statement commits by itself: the caller journals the change and, if it fails before
 * `contract`, `undoSync` brings the table back to `prev` (see schema-journal.ts). Every step
 * checks the live table first, so running a step or its undo again is safe.
 */

export type Db = AnyDb

export const SYNC_PHASES = ['indexes-dropped', 'renamed', 'moved', 'placed', 'indexed', 'contract'] as const
export type SyncPhase = (typeof SYNC_PHASES)[number]

/** Called as each phase starts (the journal records it; a test may throw to fail a step). */
export type OnPhase = (phase: SyncPhase) => Promise<void>
const noPhase: OnPhase = async () => {}

export async function createRecordTable(db: Db, ddl: SqlDdl, c: Collection): Promise<void> {
  let builder = db.schema.createTable(c.name)
  for (const f of c.fields) {
    const spec = columnSpec(f, ddl)
    builder = builder.addColumn(f.name, spec.type, spec.build)
  }
  if (ddl.rowidColumn) builder = builder.addColumn(ROWID_COLUMN, ddl.rowidColumn.type, ddl.rowidColumn.build)
  if (ddl.tableOptions) builder = builder.modifyEnd(ddl.tableOptions)
  await builder.execute()
  await createIndexes(db, ddl, c)
}

/** Drops the table if it is there; its indexes (and whatever the dialect made for them) go with it. */
export async function dropRecordTable(db: Db, c: Pick<Collection, 'name'>): Promise<void> {
  await db.schema.dropTable(c.name).ifExists().execute()
}

/** The table's columns as they are now, or undefined when there is no such table (exact name). */
export async function liveColumns(db: Db, table: string): Promise<Set<string> | undefined> {
  const info = (await db.introspection.getTables()).find((t) => t.name === table)
  return info && new Set(info.columns.map((c) => c.name))
}

/** The temporary name a case-only table rename goes through (SQLite sees one name for both). */
const renameTemp = (c: Collection) => `_plinth_rename_${crc32Checksum(c.id)}`

async function renameTable(db: Db, from: string, to: string, temp: string): Promise<void> {
  if (from === to) return
  if (from.toLowerCase() === to.toLowerCase()) {
    await db.schema.alterTable(from).renameTo(temp).execute()
    from = temp
  }
  await db.schema.alterTable(from).renameTo(to).execute()
}

/**
 * Where a field of `prev` waits while its table changes. Named by its place in `prev` (which the
 * journal keeps), so an undo on the next start finds it.
 */
export const movedColumn = (i: number) => `_plinth_prev_${i}`

/** How each field of `prev` fares in `next`: kept as it is, or moved aside (removed, renamed, converted). */
function plan(next: Collection, prev: Collection) {
  return prev.fields.map((old, i) => {
    const f = next.fields.find((n) => n.id === old.id)
    const converted = !!f && storageKind(f) !== storageKind(old)
    return { old, i, f, moved: !f || f.name !== old.name || converted, converted }
  })
}

const indexesChange = (next: Collection, prev: Collection) =>
  prev.name !== next.name || JSON.stringify(prev.fields) !== JSON.stringify(next.fields) || JSON.stringify(prev.indexes) !== JSON.stringify(next.indexes)

/** Brings the table of `prev` to the shape of `next` (matching fields by id), keeping all data; up to, not including, `contract`. */
export async function syncRecordTable(db: Db, ddl: SqlDdl, next: Collection, prev: Collection, onPhase: OnPhase = noPhase): Promise<void> {
  const indexesChanged = indexesChange(next, prev)
  await onPhase('indexes-dropped')
  if (indexesChanged) await dropIndexes(db, ddl, prev)
  await onPhase('renamed')
  await renameTable(db, prev.name, next.name, renameTemp(next))
  const table = next.name
  const steps = plan(next, prev)
  await onPhase('moved')
  for (const s of steps) if (s.moved) await db.schema.alterTable(table).renameColumn(s.old.name, movedColumn(s.i)).execute()
  await onPhase('placed')
  for (const f of next.fields) {
    const s = steps.find((x) => x.f === f)
    if (s && !s.moved) continue
    if (s && !s.converted) {
      await db.schema.alterTable(table).renameColumn(movedColumn(s.i), f.name).execute()
      continue
    }
    const spec = columnSpec(f, ddl)
    await db.schema.alterTable(table).addColumn(f.name, spec.type, spec.build).execute()
    if (s) await convertValues(db, table, f, movedColumn(s.i))
  }
  await onPhase('indexed')
  if (indexesChanged) await createIndexes(db, ddl, next)
}

/** The last phase: drops the moved-aside columns of removed and converted fields (those still there). */
export async function contractRecordTable(db: Db, next: Collection, prev: Collection): Promise<void> {
  const live = await liveColumns(db, next.name)
  for (const s of plan(next, prev)) {
    if ((!s.f || s.converted) && live?.has(movedColumn(s.i))) await db.schema.alterTable(next.name).dropColumn(movedColumn(s.i)).execute()
  }
}

/**
 * Brings a table that `syncRecordTable(next, prev)` left partly changed back to `prev`, `reached`
 * being the last phase it may have started. Each step looks at the live table first.
 */
export async function undoSync(db: Db, ddl: SqlDdl, next: Collection, prev: Collection, reached: SyncPhase): Promise<void> {
  const at = (p: SyncPhase) => SYNC_PHASES.indexOf(reached) >= SYNC_PHASES.indexOf(p)
  const indexesChanged = indexesChange(next, prev)
  if (at('indexed') && indexesChanged) await dropIndexes(db, ddl, next)
  const steps = plan(next, prev)
  if (at('moved')) {
    const table = (await liveColumns(db, next.name)) ? next.name : prev.name
    let live = (await liveColumns(db, table)) ?? new Set<string>()
    if (at('placed')) {
      // Columns made under a new name exist only once `moved` is done, so any of them here is ours.
      for (const f of next.fields) {
        const s = steps.find((x) => x.f === f)
        if ((s && !s.moved) || !live.has(f.name)) continue
        if (s && !s.converted && !live.has(movedColumn(s.i))) await db.schema.alterTable(table).renameColumn(f.name, movedColumn(s.i)).execute()
        else await db.schema.alterTable(table).dropColumn(f.name).execute()
      }
      live = (await liveColumns(db, table)) ?? live
    }
    for (const s of steps) if (s.moved && live.has(movedColumn(s.i))) await db.schema.alterTable(table).renameColumn(movedColumn(s.i), s.old.name).execute()
  }
  if (at('renamed') && prev.name !== next.name && !(await liveColumns(db, prev.name))) {
    const from = (await liveColumns(db, renameTemp(next))) ? renameTemp(next) : next.name
    await renameTable(db, from, prev.name, renameTemp(next))
  }
  if (at('indexes-dropped') && indexesChanged) {
    await dropIndexes(db, ddl, prev)
    await createIndexes(db, ddl, prev)
  }
}

/**
 * Fills a converted column (e.g. a select whose maxSelect went from 1 to 3) from the old values,
 * converted in JS so the conversion is the same on every engine.
 */
async function convertValues(db: Db, table: string, f: Field, from: string): Promise<void> {
  const rows = await db.selectFrom(table).select(['id', `${from} as v`]).execute()
  for (const row of rows as { id: string; v: unknown }[]) {
    const list = toList(row.v)
    const value = isMulti(f) ? JSON.stringify(list) : (list.at(-1) ?? '')
    await db.updateTable(table).set({ [f.name]: value }).where('id', '=', row.id).execute()
  }
}

function toList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).filter(Boolean)
  if (typeof v !== 'string' || v === '') return []
  if (v.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(v)
      if (Array.isArray(parsed)) return parsed.map(String).filter(Boolean)
    } catch {
      // not JSON: a single value
    }
  }
  return [v]
}

// ---- indexes ----

/** The dialect's description of an index of `c`. */
export function indexSpec(c: Collection, def: IndexDefinition): IndexSpec {
  return {
    name: def.name,
    table: c.name,
    unique: def.unique,
    columns: def.columns.map((col) => {
      const field = findField(c, col.name)
      return { name: col.name, kind: field ? storageKind(field) : undefined, collate: col.collate, sort: col.sort }
    }),
    where: def.where,
  }
}

/** Creates the collection's indexes; throws IndexError naming the one that failed. */
export async function createIndexes(db: Db, ddl: SqlDdl, c: Collection): Promise<void> {
  for (const [i, raw] of c.indexes.entries()) {
    const def = parseIndex(raw)
    if (!def) throw new IndexError(i, 'Invalid CREATE INDEX expression.')
    try {
      await ddl.createIndex(db, indexSpec(c, def))
    } catch (err) {
      throw new IndexError(i, `Failed to create index ${def.name} - ${(err as Error).message}.`, err)
    }
  }
}

export class IndexError extends Error {
  constructor(
    readonly position: number,
    message: string,
    cause?: unknown,
  ) {
    super(message, { cause })
    this.name = 'IndexError'
  }
}

/** Drops the collection's indexes that are there (a failed change on an engine without transactional DDL may have dropped some). */
export async function dropIndexes(db: Db, ddl: SqlDdl, c: Collection): Promise<void> {
  for (const raw of c.indexes) {
    const def = parseIndex(raw)
    if (def) await ddl.dropIndex(db, indexSpec(c, def))
  }
}

/**
 * Finds a new UNIQUE index that the current rows would violate, before any DDL runs, so that on
 * engines without transactional DDL a change does not fail halfway. Only indexes whose columns
 * already exist (matched by field id) can be checked; returns the position of the first violation.
 */
export async function findViolatedUniqueIndex(db: Db, next: Collection, prev: Collection): Promise<number | undefined> {
  for (const [i, raw] of next.indexes.entries()) {
    const def = parseIndex(raw)
    if (!def?.unique || prev.indexes.includes(raw)) continue
    const oldNames: string[] = []
    for (const name of [...def.columns.map((c) => c.name), ...def.where.map((w) => w.column)]) {
      const f = findField(next, name)
      const old = f && prev.fields.find((p) => p.id === f.id)
      if (!old) break
      oldNames.push(old.name)
    }
    if (oldNames.length !== def.columns.length + def.where.length) continue
    const cols = oldNames.slice(0, def.columns.length)
    const where = def.where.map((w, n) => ({ ...w, column: oldNames[def.columns.length + n]! }))
    const dup = await sql<{ n: number }>`select count(*) as n from ${sql.table(prev.name)}${where.length ? sql` where ${indexWhereSql(where)}` : sql``} group by ${sql.join(cols.map((c) => sql.id(c)))} having count(*) > 1`.execute(db)
    if (dup.rows.length) return i
  }
  return undefined
}

// ---- views ----

export async function createView(db: Db, name: string, query: string): Promise<void> {
  // NB: the query is superuser-written SQL, checked to be one SELECT statement (view-query.ts);
  // CREATE VIEW itself accepts nothing but a query, and drivers run one statement per call.
  await sql`create view ${sql.table(name)} as ${sql.raw(query)}`.execute(db)
}

export async function dropView(db: Db, name: string): Promise<void> {
  await db.schema.dropView(name).ifExists().execute()
}
