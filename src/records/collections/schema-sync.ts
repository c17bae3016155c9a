import { sql, type Kysely, type RawBuilder } from 'kysely'
import { columnSpec, needsIndexPrefix, ROWID_COLUMN, storageKind, type DdlProfile } from '../columns.ts'
import { findField, isMulti, type Collection, type Field } from '../model.ts'
import { crc32Checksum, randomString } from '../fields/random.ts'
import { parseIndex, type IndexDefinition, type WhereTerm } from './index-definition.ts'

/**
 * Makes the real table match a collection: create, rename, add/rename/drop columns, convert
 * single <-> multi values, (re)create indexes, drop. Identifiers always go through `sql.id` /
 * `sql.table`; the only raw fragments are fixed keywords and type names.
 *
 * Callers run this inside a transaction where the engine has transactional DDL; on MySQL each
 * statement commits by itself (see store.ts for what that means on failure).
 */

// NB: `any` is Kysely's convention for a schema known only at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Db = Kysely<any>

export async function createRecordTable(db: Db, profile: DdlProfile, c: Collection): Promise<void> {
  let builder = db.schema.createTable(c.name)
  for (const f of c.fields) {
    const spec = columnSpec(f, profile)
    builder = builder.addColumn(f.name, spec.type, spec.build)
  }
  if (profile.rowid) builder = builder.addColumn(ROWID_COLUMN, profile.rowid.type, profile.rowid.build)
  if (profile.tableOptions) builder = builder.modifyEnd(profile.tableOptions)
  await builder.execute()
  await createIndexes(db, profile, c)
}

/** Drops the table; its indexes (and MySQL's shadow columns) go with it. */
export async function dropRecordTable(db: Db, c: Collection): Promise<void> {
  await db.schema.dropTable(c.name).ifExists().execute()
}

async function renameTable(db: Db, from: string, to: string): Promise<void> {
  if (from === to) return
  if (from.toLowerCase() === to.toLowerCase()) {
    // A case-only rename: SQLite sees the same name, so go through a temporary one.
    const temp = `_tmp_${to}_${randomString(5, 'abcdefghijklmnopqrstuvwxyz')}`
    await db.schema.alterTable(from).renameTo(temp).execute()
    from = temp
  }
  await db.schema.alterTable(from).renameTo(to).execute()
}

/** Brings the table of `prev` to the shape of `next` (matching fields by id), keeping all other data. */
export async function syncRecordTable(db: Db, profile: DdlProfile, next: Collection, prev: Collection): Promise<void> {
  const fieldsChanged = JSON.stringify(prev.fields) !== JSON.stringify(next.fields)
  const renamed = prev.name !== next.name
  const indexesChanged = renamed || fieldsChanged || JSON.stringify(prev.indexes) !== JSON.stringify(next.indexes)
  if (indexesChanged) await dropIndexes(db, profile, prev)
  await renameTable(db, prev.name, next.name)
  const table = next.name

  for (const old of prev.fields) {
    if (!next.fields.some((f) => f.id === old.id)) await db.schema.alterTable(table).dropColumn(old.name).execute()
  }
  // New and renamed columns go through temporary names, so swapping two names cannot collide.
  const toFinal: [string, string][] = []
  const suffix = () => '_' + randomString(5, 'abcdefghijklmnopqrstuvwxyz')
  for (const f of next.fields) {
    const old = prev.fields.find((p) => p.id === f.id)
    if (!old) {
      const temp = f.name + suffix()
      const spec = columnSpec(f, profile)
      await db.schema.alterTable(table).addColumn(temp, spec.type, spec.build).execute()
      toFinal.push([temp, f.name])
    } else if (old.name !== f.name) {
      const temp = f.name + suffix()
      await db.schema.alterTable(table).renameColumn(old.name, temp).execute()
      toFinal.push([temp, f.name])
    }
  }
  for (const [temp, name] of toFinal) await db.schema.alterTable(table).renameColumn(temp, name).execute()

  for (const f of next.fields) {
    const old = prev.fields.find((p) => p.id === f.id)
    if (old && storageKind(old) !== storageKind(f)) await convertColumn(db, profile, table, f, old)
  }
  if (indexesChanged) await createIndexes(db, profile, next)
}

/**
 * Converts a column between single and multi storage (e.g. a select whose maxSelect went from 1
 * to 3): the old column is renamed aside, a new one added, every row's value converted in JS (so
 * the conversion is the same on every engine), and the old column dropped.
 */
async function convertColumn(db: Db, profile: DdlProfile, table: string, f: Field, old: Field): Promise<void> {
  const temp = `_old_${f.name}_${randomString(5, 'abcdefghijklmnopqrstuvwxyz')}`
  await db.schema.alterTable(table).renameColumn(f.name, temp).execute()
  const spec = columnSpec(f, profile)
  await db.schema.alterTable(table).addColumn(f.name, spec.type, spec.build).execute()
  const rows = await db.selectFrom(table).select(['id', `${temp} as v`]).execute()
  for (const row of rows as { id: string; v: unknown }[]) {
    const list = toList(row.v)
    const value = isMulti(f) ? JSON.stringify(list) : (list.at(-1) ?? '')
    await db.updateTable(table).set({ [f.name]: value }).where('id', '=', row.id).execute()
  }
  await db.schema.alterTable(table).dropColumn(temp).execute()
  void old
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

/** The invisible generated columns that stand in for a partial index where the engine has none. */
function shadowColumn(def: IndexDefinition, i: number): string {
  return `_pidx_${crc32Checksum(def.name)}_${i}`
}

const OPS: Record<WhereTerm['op'], RawBuilder<unknown>> = {
  '=': sql`=`, '!=': sql`<>`, '<': sql`<`, '<=': sql`<=`, '>': sql`>`, '>=': sql`>=`,
  'is null': sql`is null`, 'is not null': sql`is not null`,
}

function whereSql(terms: WhereTerm[]): RawBuilder<unknown> {
  // NB: DDL cannot take bound parameters, so values are inlined with sql.lit (escaped; the parser
  // already refused backslashes, which MySQL would treat as escapes).
  const parts = terms.map((t) =>
    t.value === undefined ? sql`${sql.id(t.column)} ${OPS[t.op]}` : sql`${sql.id(t.column)} ${OPS[t.op]} ${sql.lit(t.value)}`,
  )
  return sql.join(parts, sql` and `)
}

/** Creates the collection's indexes; throws IndexError naming the one that failed. */
export async function createIndexes(db: Db, profile: DdlProfile, c: Collection): Promise<void> {
  for (const [i, raw] of c.indexes.entries()) {
    const def = parseIndex(raw)
    if (!def) throw new IndexError(i, 'Invalid CREATE INDEX expression.')
    try {
      await createIndex(db, profile, c, def)
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

async function createIndex(db: Db, profile: DdlProfile, c: Collection, def: IndexDefinition): Promise<void> {
  const table = sql.table(c.name)
  const unique = def.unique ? sql`unique ` : sql``
  let cols: RawBuilder<unknown>[]
  let where = sql``
  if (def.where.length && !profile.partialIndexes) {
    // NB: MySQL/MariaDB have no partial indexes: index invisible generated columns that are NULL
    // where the WHERE does not hold (NULLs never collide in a UNIQUE index).
    cols = []
    for (const [i, col] of def.columns.entries()) {
      const name = shadowColumn(def, i)
      const field = findField(c, col.name)
      const kind = field ? storageKind(field) : 'text'
      const [type, value] =
        kind === 'number' ? [sql`double`, sql.id(col.name)] : kind === 'bool' ? [sql`boolean`, sql.id(col.name)] : [sql`varchar(${sql.lit(profile.textIndexPrefix || 191)})`, sql`left(${sql.id(col.name)}, ${sql.lit(profile.textIndexPrefix || 191)})`]
      await sql`alter table ${table} add column ${sql.id(name)} ${type} as (case when ${whereSql(def.where)} then ${value} end) virtual invisible`.execute(db)
      cols.push(sql.id(name))
    }
  } else {
    cols = def.columns.map((col) => {
      const field = findField(c, col.name)
      let ref: RawBuilder<unknown> = needsIndexPrefix(field, profile)
        ? sql`${sql.id(col.name)}(${sql.lit(profile.textIndexPrefix)})`
        : sql`${sql.id(col.name)}`
      if (col.collate && profile.indexCollate) ref = sql`${ref} collate ${sql.id(col.collate)}`
      if (col.sort) ref = sql`${ref} ${col.sort === 'DESC' ? sql`desc` : sql`asc`}`
      return ref
    })
    if (def.where.length) where = sql` where ${whereSql(def.where)}`
  }
  await sql`create ${unique}index ${sql.id(def.name)} on ${table} (${sql.join(cols)})${where}`.execute(db)
}

export async function dropIndexes(db: Db, profile: DdlProfile, c: Collection): Promise<void> {
  for (const raw of c.indexes) {
    const def = parseIndex(raw)
    if (!def) continue
    if (profile.dropIndexOnTable) {
      // Tolerates an index that is already gone (MySQL has no DROP INDEX IF EXISTS, and a failed
      // non-transactional change may have dropped it).
      if (await mysqlHas(db, 'statistics', c.name, 'index_name', def.name)) {
        await sql`drop index ${sql.id(def.name)} on ${sql.table(c.name)}`.execute(db)
      }
      if (def.where.length && !profile.partialIndexes) {
        for (let i = 0; i < def.columns.length; i++) {
          if (await mysqlHas(db, 'columns', c.name, 'column_name', shadowColumn(def, i))) await db.schema.alterTable(c.name).dropColumn(shadowColumn(def, i)).execute()
        }
      }
    } else {
      await db.schema.dropIndex(def.name).ifExists().execute()
    }
  }
}

/** Whether MySQL's information_schema lists this index or column of `table`. */
async function mysqlHas(db: Db, view: 'statistics' | 'columns', table: string, column: 'index_name' | 'column_name', name: string): Promise<boolean> {
  // NB: information_schema names are fixed; table and name are bound parameters.
  const rows = await sql<{ n: number }>`select count(*) as n from ${sql.table(`information_schema.${view}`)} where table_schema = database() and table_name = ${table} and ${sql.ref(column)} = ${name}`.execute(db)
  return Number(rows.rows[0]?.n ?? 0) > 0
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
    const dup = await sql<{ n: number }>`select count(*) as n from ${sql.table(prev.name)}${where.length ? sql` where ${whereSql(where)}` : sql``} group by ${sql.join(cols.map((c) => sql.id(c)))} having count(*) > 1`.execute(db)
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
