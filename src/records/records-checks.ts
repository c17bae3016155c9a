import { sql, type AliasedExpression, type ExpressionBuilder, type Kysely } from 'kysely'
import type { FieldError } from '../errors.ts'
import type { SqlDialect } from '../sql/dialect.ts'
import { compiledOf } from './compiled.ts'
import { hasNul } from './fields/cast.ts'
import { compileFilter } from './filter/index.ts'
import { isAuthCollection, isMulti, type Collection, type RelationField } from './model.ts'
import { actsAsSuperuser, type RequestInfo } from './record.ts'
import { ruleAccess } from './records-rules.ts'
import type { CollectionRegistry } from './registry.ts'

// NB: `any` is Kysely's convention for a schema known only at run time (collections).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

/** What the checks below read: the collections and the engine's capabilities. */
export interface CheckDeps {
  registry: CollectionRegistry
  capabilities: SqlDialect
}

/** Ids per relation lookup query. */
const LOOKUP_CHUNK = 5000

/**
 * The body the rules see, with strings holding NUL as null: PostgreSQL cannot bind them, no stored
 * value can equal them (validation refuses NUL), and a field holding one fails validation anyway.
 */
export function rulesBody(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) out[k] = typeof v === 'string' && hasNul(v) ? null : v
  return out
}

/** Whether an auth collection's manageRule lets the caller manage `recordId`. */
export async function isManager(deps: CheckDeps, db: Db, c: Collection, recordId: string | undefined, request: RequestInfo): Promise<boolean> {
  if (actsAsSuperuser(request)) return true
  if (!isAuthCollection(c) || c.manageRule === null || recordId === undefined) return false
  const access = ruleAccess(c.manageRule, c, request, deps)
  if (access.kind !== 'where') return access.kind === 'allow'
  return !!(await db.selectFrom(c.name).select('id').where('id', '=', recordId).where(access.where).executeTakeFirst())
}

/** A relation field's submitted ids (each once) and the collection they must exist in. */
export interface RelationLookup {
  field: string
  target: Collection | undefined
  ids: string[]
}

const MISSING_RELATIONS: FieldError = Object.freeze({ code: 'validation_missing_rel_records', message: 'Failed to find all relation records with the provided ids.' })

/** The relation values to look up; fields that already failed validation are left out. */
function relationLookups(deps: CheckDeps, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>): RelationLookup[] {
  const lookups: RelationLookup[] = []
  for (const f of c.fields) {
    if (f.type !== 'relation' || !(f.name in values) || failed[f.name]) continue
    const raw = values[f.name]
    const ids: string[] = isMulti(f) ? (typeof raw === 'string' ? (JSON.parse(raw) as string[]) : ((raw as string[] | null) ?? [])) : raw ? [String(raw)] : []
    if (ids.length) lookups.push({ field: f.name, target: deps.registry.get((f as RelationField).collectionId), ids: [...new Set(ids)] })
  }
  return lookups
}

/**
 * Relation values must point at existing records: 400 on the field otherwise. Fields that
 * already failed validation (too many ids, NUL characters) are not looked up.
 */
export async function checkRelations(deps: CheckDeps, db: Db, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>): Promise<Record<string, FieldError>> {
  const errors: Record<string, FieldError> = {}
  for (const { field, target, ids } of relationLookups(deps, c, values, failed)) {
    let found = 0
    // In chunks: engines cap bound parameters per statement (SQLite 32766, PostgreSQL 65535).
    for (let i = 0; target && i < ids.length; i += LOOKUP_CHUNK) {
      found += (await db.selectFrom(target.name).select('id').where('id', 'in', ids.slice(i, i + LOOKUP_CHUNK)).execute()).length
      if (found < Math.min(i + LOOKUP_CHUNK, ids.length)) break
    }
    if (found !== ids.length) errors[field] = MISSING_RELATIONS
  }
  return errors
}

/** At most this many relation ids are counted inside another statement (`countRelations`). */
const FOLDED_IDS = 100

/**
 * The relation lookups of a write when they can ride on a statement that runs anyway (a create's
 * INSERT ... RETURNING or its read-back, `records-insert.ts`) as counts, saving a round trip per
 * write: undefined when there
 * are too many ids for that or a target collection is gone (then `checkRelations`).
 */
export function foldableRelations(deps: CheckDeps, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>): RelationLookup[] | undefined {
  const lookups = relationLookups(deps, c, values, failed)
  let ids = 0
  for (const l of lookups) {
    if (!l.target) return undefined
    ids += l.ids.length
  }
  return ids <= FOLDED_IDS ? lookups : undefined
}

const countColumn = (i: number) => `__plinth_rel_${i}`

/**
 * One more column per lookup, how many of its ids exist: for a select's `.select()` or an
 * insert's `.returning()` (SQLite and PostgreSQL take a subquery there).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function relationCounts(lookups: RelationLookup[]): (eb: ExpressionBuilder<any, any>) => AliasedExpression<unknown, string>[] {
  return (eb) => lookups.map((l, i) => eb.selectFrom(l.target!.name).select(eb.fn.countAll().as('n')).where('id', 'in', l.ids).as(countColumn(i)))
}

/** The field errors a row with `relationCounts` reports. */
export function relationErrors(row: Record<string, unknown>, lookups: RelationLookup[]): Record<string, FieldError> {
  const errors: Record<string, FieldError> = {}
  lookups.forEach((l, i) => {
    if (Number(row[countColumn(i)]) !== l.ids.length) errors[l.field] = MISSING_RELATIONS
  })
  return errors
}

/** Which submitted values for unique-indexed fields (and the id) another record already has. */
export async function uniqueErrors(db: Db, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>, selfId?: string, skipId = false): Promise<Record<string, FieldError>> {
  const errors: Record<string, FieldError> = {}
  const unique = compiledOf(c).uniqueFields
  for (const [name, value] of Object.entries(values)) {
    if (failed[name] || (name === 'id' && skipId)) continue
    if (name !== 'id' && !unique.has(name.toLowerCase())) continue
    // Blank is "no value": the default unique indexes skip it (`WHERE email != ''`), and a plain
    // unique index on the column still refuses a second blank at the write (then this same 400).
    if (name !== 'id' && value === '') continue
    let q = db.selectFrom(c.name).select('id').where(sql.ref(name), '=', value as string)
    if (selfId !== undefined) q = q.where('id', '!=', selfId)
    if (await q.executeTakeFirst()) errors[name] = { code: 'validation_not_unique', message: 'Value must be unique.' }
  }
  return errors
}

/**
 * Whether the create rule matches a row that is not inserted (PocketBase's dummy-record check):
 * the values as a one-row CTE, typed by a never-true select of the real table's columns.
 * Fields whose value failed validation are null there (their value may not even bind).
 */
export async function passesOnDummyRow(deps: CheckDeps, db: Db, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>, request: RequestInfo): Promise<boolean> {
  if (c.createRule === null) return false
  const alias = '__pb_create__'
  const cols = [...new Set(['id', ...c.fields.map((f) => f.name)])]
  values = Object.fromEntries(cols.map((k) => [k, failed[k] || values[k] === undefined ? null : values[k]]))
  const where = compileFilter(c.createRule, { collection: c, alias, registry: deps.registry, capabilities: deps.capabilities, request, allowHidden: true })
  const typed = sql`select ${sql.join(cols.map((k) => sql.ref(k)))} from ${sql.table(c.name)} where 1 = 0`
  const row = sql`select ${sql.join(cols.map((k) => sql`${values[k]}`))}`
  const q = sql<{ ok: number }>`with ${sql.id(alias)} as (${typed} union all ${row}) select 1 as ok from ${sql.id(alias)} where ${where} limit 1`
  return (await q.execute(db)).rows.length > 0
}
