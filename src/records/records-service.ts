import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely'
import { removeInstaller } from '../auth/superusers.ts'
import { ApiError, validationError, type FieldError } from '../errors.ts'
import { SqlUniqueViolationError } from '../sql/errors.ts'
import type { SqlRouter } from '../sql/router.ts'
import { RecordHooks, type RecordCreateEvent, type RecordUpdateEvent } from './hooks.ts'
import { findSingleColumnUniqueIndex } from './collections/index-definition.ts'
import { expandRecords, parseExpand } from './expand.ts'
import { hasNul } from './fields/cast.ts'
import { prepareRecord, rowToRecord } from './fields/index.ts'
import type { PasswordGuard } from './fields/types.ts'
import { compileFilter, compileSort } from './filter/index.ts'
import { isAuthCollection, isMulti, type Collection, type RelationField } from './model.ts'
import { parseFields, pickFields } from './pick-fields.ts'
import type { RecordJson, RequestInfo } from './record.ts'
import { clientFilterScope, ruleAccess, type RuleAccess } from './records-rules.ts'
import { managedIds, visibleRecord } from './records-visibility.ts'
import type { CollectionRegistry } from './registry.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

export interface ListQuery {
  page?: number
  perPage?: number
  sort?: string
  filter?: string
  skipTotal?: boolean
  expand?: string
  fields?: string
}

export interface ListResult {
  page: number
  perPage: number
  totalItems: number
  totalPages: number
  items: RecordJson[]
}

/** PocketBase's page limits. */
export const DEFAULT_PER_PAGE = 30
export const MAX_PER_PAGE = 1000

const onlySuperusers = () => new ApiError('forbidden', 'Only superusers can perform this action.')
const stoppedByHook = () => new ApiError('bad_request', 'The request was stopped by a hook.')
const notFound = () => new ApiError('not_found', "The requested resource wasn't found.")
/** Ids per relation lookup query. */
const LOOKUP_CHUNK = 5000
const unsupportedType = () => new ApiError('bad_request', 'Unsupported collection type.')

/**
 * The body the rules see, with strings holding NUL as null: PostgreSQL cannot bind them, no stored
 * value can equal them (validation refuses NUL), and a field holding one fails validation anyway.
 */
function rulesBody(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) out[k] = typeof v === 'string' && hasNul(v) ? null : v
  return out
}

/**
 * Records of every collection: list, view, create, update, delete with PocketBase's API rules.
 * Reads go to the router's reader, writes and their checks to the writer inside one transaction.
 * Methods take the executor, so a batch can run several in one transaction.
 */
export class RecordsService {
  constructor(
    private readonly registry: CollectionRegistry,
    private readonly sql: SqlRouter,
    readonly hooks: RecordHooks = new RecordHooks(),
    /** Throttles the `oldPassword` check of a password change like a sign-in (per account and address). */
    private readonly passwordGuard?: PasswordGuard,
  ) {}

  /** The table of a collection (its name), for callers outside the service such as batch upserts. */
  tableOf(collectionName: string): string {
    return this.registry.getOrThrow(collectionName).name
  }

  private get caps() {
    return this.sql.writer().capabilities
  }

  private access(rule: Collection['listRule'], c: Collection, request: RequestInfo): RuleAccess {
    return ruleAccess(rule, c, request, { registry: this.registry, capabilities: this.caps })
  }

  /** Response JSON: visible fields, `expand`, then `fields`. */
  private async present(db: Db, c: Collection, records: RecordJson[], request: RequestInfo, q: { expand?: string; fields?: string }): Promise<RecordJson[]> {
    const pick = q.fields ? parseFields(q.fields) : undefined
    const managed = await managedIds(db, c, records.map((r) => r.id), request, { registry: this.registry, capabilities: this.caps })
    const out = records.map((r) => visibleRecord(c, r, request, managed.has(r.id)))
    if (q.expand) await expandRecords({ registry: this.registry, capabilities: this.caps, db }, c, out, parseExpand(q.expand), request)
    return out.map((r) => pickFields(r, pick))
  }

  async list(collectionName: string, q: ListQuery, request: RequestInfo): Promise<ListResult> {
    const c = this.registry.getOrThrow(collectionName)
    const access = this.access(c.listRule, c, request)
    if (access.kind === 'deny') throw onlySuperusers()
    // PocketBase's normalization: page < 1 is 1; perPage < 1 is the default, over the max is the max.
    const page = q.page === undefined || !(q.page >= 1) ? 1 : Math.floor(q.page)
    const perPage = q.perPage === undefined || !(q.perPage >= 1) ? DEFAULT_PER_PAGE : Math.min(Math.floor(q.perPage), MAX_PER_PAGE)
    const offset = (page - 1) * perPage
    const scope = clientFilterScope(c, q, request, { registry: this.registry, capabilities: this.caps })
    const db = this.sql.reader().db
    let base = db.selectFrom(c.name).where(compileFilter(q.filter ?? '', scope))
    if (access.kind === 'where') base = base.where(access.where)
    const order = q.sort ? compileSort(q.sort, scope) : []
    // Without a sort, insertion order as PocketBase (its rowid; every engine's tables have one).
    // Views have none: creation date, then id.
    if (order.length === 0 && c.type !== 'view') order.push(...compileSort('@rowid', scope))
    if (order.length === 0) {
      if (c.fields.some((f) => f.name === 'created')) order.push(sql`${sql.ref(`${c.name}.created`)} asc`)
      order.push(sql`${sql.ref(`${c.name}.id`)} asc`)
    }
    const [rows, total] = await Promise.all([
      // NB: an offset past 2^53 cannot be bound exactly, and no table has that many rows: no query.
      offset > Number.MAX_SAFE_INTEGER ? Promise.resolve([]) : order.reduce((qb, o) => qb.orderBy(o), base.selectAll()).limit(perPage).offset(offset).execute(),
      q.skipTotal ? Promise.resolve(-1) : base.select(sql<number>`count(*)`.as('n')).executeTakeFirst().then((r) => Number(r?.n ?? 0)),
    ])
    const items = await this.present(db, c, rows.map((row) => rowToRecord(c, row)), request, q)
    return { page, perPage, totalItems: total, totalPages: total < 0 ? -1 : Math.ceil(total / perPage), items }
  }

  /** One record the view rule lets the caller see, or 404. */
  async view(collectionName: string, id: string, request: RequestInfo, q: { expand?: string; fields?: string } = {}): Promise<RecordJson> {
    const c = this.registry.getOrThrow(collectionName)
    const access = this.access(c.viewRule, c, request)
    if (access.kind === 'deny') throw onlySuperusers()
    // A NUL in a path id matches no record (and PostgreSQL refuses it in a query).
    if (hasNul(id)) throw notFound()
    const db = this.sql.reader().db
    let query = db.selectFrom(c.name).selectAll().where(sql.ref(`${c.name}.id`), '=', id)
    if (access.kind === 'where') query = query.where(access.where)
    const row = await query.executeTakeFirst()
    if (!row) throw notFound()
    return (await this.present(db, c, [rowToRecord(c, row)], request, q))[0]!
  }

  private async readRow(db: Db, c: Collection, id: string): Promise<RecordJson | undefined> {
    const row = await db.selectFrom(c.name).selectAll().where('id', '=', id).executeTakeFirst()
    return row ? rowToRecord(c, row) : undefined
  }

  /** Whether an auth collection's manageRule lets the caller manage `recordId`. */
  private async isManager(db: Db, c: Collection, recordId: string | undefined, request: RequestInfo): Promise<boolean> {
    if (request.auth?.isSuperuser) return true
    if (!isAuthCollection(c) || c.manageRule === null || recordId === undefined) return false
    const access = this.access(c.manageRule, c, request)
    if (access.kind !== 'where') return access.kind === 'allow'
    return !!(await db.selectFrom(c.name).select('id').where('id', '=', recordId).where(access.where).executeTakeFirst())
  }

  /**
   * Relation values must point at existing records: 400 on the field otherwise. Fields that
   * already failed validation (too many ids, NUL characters) are not looked up.
   */
  private async checkRelations(db: Db, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>): Promise<Record<string, FieldError>> {
    const errors: Record<string, FieldError> = {}
    for (const f of c.fields) {
      if (f.type !== 'relation' || !(f.name in values) || failed[f.name]) continue
      const raw = values[f.name]
      const ids: string[] = isMulti(f) ? (typeof raw === 'string' ? (JSON.parse(raw) as string[]) : ((raw as string[] | null) ?? [])) : raw ? [String(raw)] : []
      if (ids.length === 0) continue
      const target = this.registry.get((f as RelationField).collectionId)
      const unique = [...new Set(ids)]
      let found = 0
      // In chunks: engines cap bound parameters per statement (SQLite 32766, PostgreSQL 65535).
      for (let i = 0; target && i < unique.length; i += LOOKUP_CHUNK) {
        found += (await db.selectFrom(target.name).select('id').where('id', 'in', unique.slice(i, i + LOOKUP_CHUNK)).execute()).length
        if (found < Math.min(i + LOOKUP_CHUNK, unique.length)) break
      }
      if (found !== unique.length) errors[f.name] = { code: 'validation_missing_rel_records', message: 'Failed to find all relation records with the provided ids.' }
    }
    return errors
  }

  /** Which submitted values for unique-indexed fields (and the id) another record already has. */
  private async uniqueErrors(db: Db, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>, selfId?: string): Promise<Record<string, FieldError>> {
    const errors: Record<string, FieldError> = {}
    for (const [name, value] of Object.entries(values)) {
      if (failed[name]) continue
      if (name !== 'id' && !findSingleColumnUniqueIndex(c.indexes, name)) continue
      let q = db.selectFrom(c.name).select('id').where(sql.ref(name), '=', value as string)
      if (selfId !== undefined) q = q.where('id', '!=', selfId)
      if (await q.executeTakeFirst()) errors[name] = { code: 'validation_not_unique', message: 'Value must be unique.' }
    }
    return errors
  }

  /**
   * Runs a write. Uniqueness was checked before on the same executor; a violation here is a race
   * with another writer and still becomes 400 `validation_not_unique`, never a 500 with SQL.
   */
  private async write<T>(c: Collection, values: Record<string, unknown>, failMessage: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (!isUniqueViolation(err)) throw err
      const field = Object.keys(values).find((name) => name !== 'id' && findSingleColumnUniqueIndex(c.indexes, name)) ?? 'id'
      throw validationError({ [field]: { code: 'validation_not_unique', message: 'Value must be unique.' } }, failMessage)
    }
  }

  private async doCreate(c: Collection, input: Record<string, unknown>, request: RequestInfo, db: Db): Promise<RecordJson> {
    if (c.type === 'view') throw unsupportedType()
    const superuser = request.auth?.isSuperuser === true
    if (!superuser && c.createRule === null) throw onlySuperusers()
    const { values, errors, body } = await prepareRecord(c, input, undefined, { capabilities: this.caps, isSuperuser: superuser })
    // NB: the rule sees the body AFTER modifiers (PocketBase's ReplaceModifiers): `owner+` or
    // `+role` must be judged as `owner`/`role`, or a rule on the plain name is bypassed.
    const ruled: RequestInfo = { ...request, body: rulesBody(body) }
    const access = this.access(c.createRule, c, ruled)
    // As PocketBase, a caller the create rule refuses gets its plain refusal, never field errors.
    // NB: this matters most for errors that come from other records ("that email exists"), or
    // the endpoint would answer probes from anyone.
    // Missing relations are field errors like the others; uniqueness is reported only when
    // everything else is valid (PocketBase learns it from the insert).
    const invalid = { ...errors }
    Object.assign(errors, await this.checkRelations(db, c, values, errors))
    if (!Object.keys(errors).length) Object.assign(errors, await this.uniqueErrors(db, c, values, errors))
    if (Object.keys(errors).length) {
      if (access.kind === 'where' && !(await this.passesOnDummyRow(db, c, values, invalid, ruled))) throw new ApiError('bad_request', 'Failed to create record.')
      throw validationError(errors, 'Failed to create record.')
    }
    const id = String(values.id)
    const created = await this.write(c, values, 'Failed to create record.', () =>
      inTransaction(db, async (trx) => {
        await trx.insertInto(c.name).values(values).execute()
        // PocketBase checks a create rule against the new row, then keeps or rolls back the insert.
        if (access.kind === 'where') {
          const ok = await trx.selectFrom(c.name).select('id').where('id', '=', id).where(access.where).executeTakeFirst()
          if (!ok) throw new ApiError('bad_request', 'Failed to create record.')
        }
        if (c.name === '_superusers' && isAuthCollection(c)) await removeInstaller(trx, c)
        return (await this.readRow(trx, c, id))!
      }),
    )
    return created
  }

  /**
   * Whether the create rule matches a row that is not inserted (PocketBase's dummy-record check):
   * the values as a one-row CTE, typed by a never-true select of the real table's columns.
   * Fields whose value failed validation are null there (their value may not even bind).
   */
  private async passesOnDummyRow(db: Db, c: Collection, values: Record<string, unknown>, failed: Record<string, FieldError>, request: RequestInfo): Promise<boolean> {
    if (c.createRule === null) return false
    const alias = '__pb_create__'
    const cols = [...new Set(['id', ...c.fields.map((f) => f.name)])]
    values = Object.fromEntries(cols.map((k) => [k, failed[k] || values[k] === undefined ? null : values[k]]))
    const where = compileFilter(c.createRule, { collection: c, alias, registry: this.registry, capabilities: this.caps, request, allowHidden: true })
    const typed = sql`select ${sql.join(cols.map((k) => sql.ref(k)))} from ${sql.table(c.name)} where 1 = 0`
    const row = sql`select ${sql.join(cols.map((k) => sql`${values[k]}`))}`
    const q = sql<{ ok: number }>`with ${sql.id(alias)} as (${typed} union all ${row}) select 1 as ok from ${sql.id(alias)} where ${where} limit 1`
    return (await q.execute(db)).rows.length > 0
  }

  private async doUpdate(c: Collection, id: string, input: Record<string, unknown>, request: RequestInfo, db: Db): Promise<RecordJson> {
    if (c.type === 'view') throw unsupportedType()
    if (!request.auth?.isSuperuser && c.updateRule === null) throw onlySuperusers()
    if (hasNul(id)) throw notFound()
    // PocketBase's order: load the record, resolve the modifiers against it, then check the rule
    // with that body (404 when it does not match), and only then report validation errors.
    const row = await db.selectFrom(c.name).selectAll().where(sql.ref(`${c.name}.id`), '=', id).executeTakeFirst()
    if (!row) throw notFound()
    const existing = rowToRecord(c, row)
    const superuser = request.auth?.isSuperuser === true
    // The body the rules see drops hidden fields for everyone but superusers (as PocketBase's),
    // so it comes from a pass as the caller; a manager's own write is prepared again with rights.
    let prepared = await prepareRecord(c, input, existing, { capabilities: this.caps, isSuperuser: superuser, deferOldPassword: true })
    const ruled: RequestInfo = { ...request, body: rulesBody(prepared.body) }
    const manager = !superuser && (await this.isManager(db, c, id, ruled))
    const access = this.access(c.updateRule, c, ruled)
    if (access.kind === 'where') {
      const ok = await db.selectFrom(c.name).select('id').where(sql.ref(`${c.name}.id`), '=', id).where(access.where).executeTakeFirst()
      if (!ok) throw notFound()
    }
    if (manager) prepared = await prepareRecord(c, input, existing, { capabilities: this.caps, isSuperuser: true })
    else if (prepared.oldPasswordPending) {
      // Only a caller the rule lets in gets the old password checked, throttled like a sign-in.
      const guard = this.passwordGuard
      const passwordAttempt = guard && (() => guard.begin(c.id, String(existing.email ?? existing.id), request.ip ?? ''))
      prepared = await prepareRecord(c, input, existing, { capabilities: this.caps, isSuperuser: false, passwordAttempt })
    }
    const { values, errors } = prepared
    Object.assign(errors, await this.checkRelations(db, c, values, errors))
    if (!Object.keys(errors).length) Object.assign(errors, await this.uniqueErrors(db, c, values, errors, id))
    if (Object.keys(errors).length) throw validationError(errors, 'Failed to update record.')
    const updated = await this.write(c, values, 'Failed to update record.', async () => {
      if (Object.keys(values).length) await db.updateTable(c.name).set(values).where('id', '=', id).execute()
      return (await this.readRow(db, c, String(values.id ?? id)))!
    })
    return updated
  }

  private async doDelete(c: Collection, id: string, request: RequestInfo, db: Db): Promise<void> {
    if (c.type === 'view') throw unsupportedType()
    const access = this.access(c.deleteRule, c, request)
    if (access.kind === 'deny') throw onlySuperusers()
    if (hasNul(id)) throw notFound()
    let find = db.selectFrom(c.name).select('id').where(sql.ref(`${c.name}.id`), '=', id)
    if (access.kind === 'where') find = find.where(access.where)
    if (!(await find.executeTakeFirst())) throw notFound()
    await inTransaction(db, (trx) => this.deleteWithReferences(trx, c, id, 0))
  }

  /** Creates a record through the `onRecordCreate` hooks; `db` is a transaction inside a batch. */
  async create(collectionName: string, input: Record<string, unknown>, request: RequestInfo, q: { expand?: string; fields?: string } = {}, db: Db = this.sql.writer().db): Promise<RecordJson> {
    const c = this.registry.getOrThrow(collectionName)
    const e: RecordCreateEvent = { collection: c, data: input, request }
    await this.guard(this.hooks.createError, c, request, () =>
      this.hooks.create.run(e, async (ev) => {
        ev.record = await this.doCreate(c, ev.data, request, db)
      }),
    )
    if (!e.record) throw stoppedByHook()
    await this.hooks.createSuccess.run({ collection: c, record: e.record, request }, async () => {})
    return (await this.present(db, c, [e.record], request, q))[0]!
  }

  async update(collectionName: string, id: string, input: Record<string, unknown>, request: RequestInfo, q: { expand?: string; fields?: string } = {}, db: Db = this.sql.writer().db): Promise<RecordJson> {
    const c = this.registry.getOrThrow(collectionName)
    const e: RecordUpdateEvent = { collection: c, id, data: input, request }
    await this.guard(this.hooks.updateError, c, request, () =>
      this.hooks.update.run(e, async (ev) => {
        ev.record = await this.doUpdate(c, ev.id, ev.data, request, db)
      }),
    )
    if (!e.record) throw stoppedByHook()
    await this.hooks.updateSuccess.run({ collection: c, record: e.record, request }, async () => {})
    return (await this.present(db, c, [e.record], request, q))[0]!
  }

  async delete(collectionName: string, id: string, request: RequestInfo, db: Db = this.sql.writer().db): Promise<void> {
    const c = this.registry.getOrThrow(collectionName)
    let done = false
    await this.guard(this.hooks.deleteError, c, request, () =>
      this.hooks.delete.run({ collection: c, id, request }, async (ev) => {
        await this.doDelete(c, ev.id, request, db)
        done = true
      }),
    )
    if (!done) throw stoppedByHook()
    await this.hooks.deleteSuccess.run({ collection: c, id, request }, async () => {})
  }

  /** Runs `fn`; on failure, tells the `after...Error` hooks, then rethrows. */
  private async guard(hook: RecordHooks['createError'], c: Collection, request: RequestInfo, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (error) {
      await hook.run({ collection: c, error, request }, async () => {})
      throw error
    }
  }

  /**
   * Deletes a record and settles what points at it, PocketBase's way: the record goes first (so
   * A<->B cascades end), then each referencing record loses the id; a cascadeDelete relation
   * deletes the referencing record only when that was its last id; a required relation left
   * empty refuses the whole delete (the transaction rolls back).
   */
  private async deleteWithReferences(db: Db, c: Collection, id: string, depth: number): Promise<void> {
    if (depth > 16) throw new ApiError('bad_request', 'Cascade delete is nested too deeply.')
    await db.deleteFrom(c.name).where('id', '=', id).execute()
    const others = this.registry.all().filter((o) => o.type !== 'view').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const other of others) {
      for (const f of other.fields) {
        if (f.type !== 'relation' || f.collectionId !== c.id) continue
        const column = sql.ref(`${other.name}.${f.name}`)
        let refs: RawBuilder<SqlBool>
        if (isMulti(f)) {
          const e = this.caps.arrayElements(column, '__je')
          refs = sql<SqlBool>`exists (select 1 from ${e.from} where ${e.v} = ${id})`
        } else {
          refs = sql<SqlBool>`${column} = ${id}`
        }
        const rows = await db.selectFrom(other.name).selectAll().where(refs).execute()
        for (const row of rows) {
          const rec = rowToRecord(other, row)
          const remaining = isMulti(f) ? (rec[f.name] as string[]).filter((x) => x !== id) : []
          if (f.cascadeDelete && remaining.length === 0) {
            await this.deleteWithReferences(db, other, rec.id, depth + 1)
            continue
          }
          if (f.required && remaining.length === 0) {
            throw new ApiError('bad_request', 'Failed to delete record. Make sure that the record is not part of a required relation reference.')
          }
          const value = isMulti(f) ? JSON.stringify(remaining) : ''
          await db.updateTable(other.name).set({ [f.name]: value }).where('id', '=', rec.id).execute()
        }
      }
    }
  }
}

/** Runs `fn` in a transaction, or inside the caller's one when `db` already is one (a batch). */
function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn)
}

/** A unique-constraint violation, as the SQL port reports it on every engine. */
function isUniqueViolation(err: unknown): boolean {
  return err instanceof SqlUniqueViolationError
}
