import { sql, type CompiledQuery, type Kysely, type RawBuilder, type SqlBool } from 'kysely'
import { ApiError, validationError } from '../errors.ts'
import { SqlUniqueViolationError } from '../sql/errors.ts'
import type { SqlRouter } from '../sql/router.ts'
import { RecordHooks, type RecordCreateEvent, type RecordUpdateEvent } from './hooks.ts'
import { findSingleColumnUniqueIndex } from './collections/index-definition.ts'
import { expandRecords, parseExpand } from './expand.ts'
import { hasNul } from './fields/cast.ts'
import { prepareRecord, rowToRecord, sealValues } from './fields/index.ts'
import type { PasswordGuard } from './fields/types.ts'
import { compileFilter, compileSort, TRUE } from './filter/index.ts'
import { isMulti, type Collection } from './model.ts'
import { parseFields, pickFields } from './pick-fields.ts'
import { actsAsSuperuser, type RecordJson, type RequestInfo } from './record.ts'
import { checkRelations, foldableRelations, isManager, passesOnDummyRow, rulesBody, uniqueErrors } from './records-checks.ts'
import { insertRecord } from './records-insert.ts'
import { ALLOW, clientFilterScope, readsOnlyCaller, ruleAccess, type RuleAccess } from './records-rules.ts'
import { compiledOf } from './compiled.ts'
import { RecordsTransaction } from './records-tx.ts'
import { listStatements, SLOT, viewById } from './statements.ts'
import { managedIds, visibleRecord } from './records-visibility.ts'
import type { CollectionRegistry } from './registry.ts'
import { Units, type CommitListener, type UnitOfWork } from './unit-of-work.ts'
import type { RecordReadCache } from './read-cache.ts'

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

/** What a single-record answer may ask for: `expand` and `fields`, as in the query string. */
export interface ViewQuery {
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
const unsupportedType = () => new ApiError('bad_request', 'Unsupported collection type.')

/**
 * Records of every collection: list, view, create, update, delete with PocketBase's API rules.
 * This is the one write path: the API, batches, auth flows, the CLI and app code all write here,
 * so validation, hooks and events are the same everywhere.
 *
 * Every write runs in a unit of work (`transaction`): one transaction on the writer whose record
 * changes are delivered after it commits (`onCommit` listeners, then the `after...Success`
 * hooks), in order, and dropped if it rolls back. A write outside any `transaction` is its own
 * unit; a `transaction` (or write) inside another joins it. Reads go to the router's reader, or
 * to the open transaction when there is one.
 */
export class RecordsService {
  private readonly units: Units
  /** Reads outside a unit of work go through it when set (`cacheRecords`, read-cache.ts; core.ts sets it). */
  readCache?: Pick<RecordReadCache, 'read'>

  constructor(
    private readonly registry: CollectionRegistry,
    private readonly sql: SqlRouter,
    readonly hooks: RecordHooks = new RecordHooks(),
    /** Throttles the `oldPassword` check of a password change like a sign-in (per account and address). */
    private readonly passwordGuard?: PasswordGuard,
    readonly decorate?: (c: Collection, records: RecordJson[]) => void, // before `fields`: core.ts adds CDN URLs (auth responses call it too)
  ) {
    this.units = new Units(hooks)
  }

  /**
   * Runs `fn` in one transaction and returns its result. Every write made through `tx` (or
   * through this service while `fn` runs, by hooks too) is part of it; the changes are delivered
   * after the outermost transaction commits, in order. When `fn` throws, everything rolls back,
   * the changes are dropped and the error is rethrown. Inside another transaction it joins that
   * one. NB: SQLite has one connection: inside `fn`, read and write through `tx` (or this service),
   * never through the SQL engine directly or another request, which would wait for this
   * transaction forever; and keep `fn` short, every other writer waits for it.
   */
  async transaction<T>(fn: (tx: RecordsTransaction) => Promise<T>): Promise<T> {
    const done = await this.units.run(this.sql.writer().db, (uow) => fn(new RecordsTransaction(this, this.units, uow)))
    await done.deliver()
    return done.value
  }

  /**
   * Subscribes to committed record changes: `listener` gets the changes of each committed unit
   * of work, in order, before the `after...Success` hooks run. Rolled-back work never reaches it.
   * Realtime, job enqueue and cache invalidation hang off this. Returns the unsubscribe function.
   * A listener that throws does not stop the others; its error reaches the writer's caller.
   */
  onCommit(listener: CommitListener): () => void {
    return this.units.onCommit(listener)
  }

  /**
   * The transaction open in this async context, if any: its SQL handle (for a write that must
   * commit or roll back with it, like a job in the SQL queue) and `afterCommit`, for work that
   * must wait until it commits and never run if it rolls back; `afterRollback`, to undo outside work.
   */
  openTransaction(): { db: Db; afterCommit(fn: () => Promise<void>): void; afterRollback(fn: () => Promise<void>): void } | undefined {
    const uow = this.units.active()
    return uow && { db: uow.db, afterCommit: (fn) => void uow.afterCommit.push(fn), afterRollback: (fn) => void uow.afterRollback.push(fn) }
  }

  /** A collection by id or name, if it exists. */
  collection(idOrName: string): Collection | undefined {
    return this.registry.get(idOrName)
  }

  /** The executor for reads: the open transaction if any (it sees its own writes), else the reader. */
  private readDb(): Db {
    return this.units.active()?.db ?? this.sql.reader().db
  }

  /**
   * The reader's direct path (`SqlEngine.query`: no executor round trips for the hottest
   * statements), or undefined inside a unit of work, whose reads must see its own writes.
   */
  private direct(): ((compiled: CompiledQuery) => Promise<Record<string, unknown>[]>) | undefined {
    if (this.units.active()) return undefined
    const reader = this.sql.reader()
    const cached = this.readCache
    return cached ? (compiled) => cached.read(compiled, reader) : (compiled) => reader.query(compiled)
  }

  /** Runs a read built on `readDb()`: on the direct path outside a unit, else through its transaction. */
  private read<R>(query: { compile(): CompiledQuery<R>; execute(): Promise<R[]> }): Promise<R[]> {
    const direct = this.direct()
    return direct ? (direct(query.compile()) as Promise<R[]>) : query.execute()
  }

  /** The table of a collection (its name), for callers outside the service such as batch upserts. */
  tableOf(collectionName: string): string {
    return this.registry.getOrThrow(collectionName).name
  }

  private get caps() {
    // The primary's flags (every instance runs the same engine): no throw while it is down.
    return this.sql.primary.capabilities
  }

  private get deps() {
    return { registry: this.registry, capabilities: this.caps }
  }

  private access(rule: Collection['listRule'], c: Collection, request: RequestInfo): RuleAccess {
    return ruleAccess(rule, c, request, { registry: this.registry, capabilities: this.caps })
  }

  /** Response JSON: visible fields, `expand`, then `fields`. */
  private async present(db: Db, c: Collection, records: RecordJson[], request: RequestInfo, q: { expand?: string; fields?: string }): Promise<RecordJson[]> {
    const pick = q.fields ? parseFields(q.fields) : undefined
    const managed = await managedIds(db, c, records.map((r) => r.id), request, { registry: this.registry, capabilities: this.caps })
    const out = records.map((r) => visibleRecord(c, r, request, managed.has(r.id)))
    if (q.expand) await expandRecords({ registry: this.registry, capabilities: this.caps, db, query: this.direct() }, c, out, parseExpand(q.expand), request)
    this.decorate?.(c, out)
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
    const db = this.readDb()
    // Both statements, with the page left as parameters (`limit`, `offset`).
    const build = (limit: unknown, offset: unknown) => {
      const filter = compileFilter(q.filter ?? '', scope)
      // No WHERE at all for an empty filter: SQLite counts a whole table without reading it then.
      let base = filter === TRUE ? db.selectFrom(c.name) : db.selectFrom(c.name).where(filter)
      if (access.kind === 'where') base = base.where(access.where)
      const order = q.sort ? compileSort(q.sort, scope) : []
      // Without a sort, insertion order as PocketBase (its rowid; every engine's tables have one).
      // Views have none: creation date, then id.
      if (order.length === 0 && c.type !== 'view') order.push(...compileSort('@rowid', scope))
      if (order.length === 0) {
        if (c.fields.some((f) => f.name === 'created')) order.push(sql`${sql.ref(`${c.name}.created`)} asc`)
        order.push(sql`${sql.ref(`${c.name}.id`)} asc`)
      }
      return { rows: order.reduce((qb, o) => qb.orderBy(o), base.selectAll()).limit(limit as number).offset(offset as number), count: base.select(sql<number>`count(*)`.as('n')) }
    }
    const direct = this.direct()
    const kept = direct && listStatements(c, access, request, q, this.registry, () => build(SLOT.limit, SLOT.offset))
    const built = kept ? undefined : build(perPage, offset)
    const [rows, total] = await Promise.all([
      // NB: an offset past 2^53 cannot be bound exactly, and no table has that many rows: no query.
      offset > Number.MAX_SAFE_INTEGER ? Promise.resolve([]) : built ? this.read(built.rows) : direct!(kept!.rows.with(perPage, offset)),
      q.skipTotal ? Promise.resolve(-1) : (built ? this.read(built.count) : direct!(kept!.count)).then((r) => Number(r[0]?.n ?? 0)),
    ])
    const items = await this.present(db, c, rows.map((row) => rowToRecord(c, row)), request, q)
    return { page, perPage, totalItems: total, totalPages: total < 0 ? -1 : Math.ceil(total / perPage), items }
  }

  /** One record the view rule lets the caller see, or 404. */
  async view(collectionName: string, id: string, request: RequestInfo, q: ViewQuery = {}): Promise<RecordJson> {
    const c = this.registry.getOrThrow(collectionName)
    const access = this.access(c.viewRule, c, request)
    if (access.kind === 'deny') throw onlySuperusers()
    // A NUL in a path id matches no record (and PostgreSQL refuses it in a query).
    if (hasNul(id)) throw notFound()
    const db = this.readDb()
    const direct = this.direct()
    const [row] = direct ? await direct(viewById(db, c, access, id)) : await db.executeQuery(viewById(db, c, access, id)).then((r) => r.rows as Record<string, unknown>[])
    if (!row) throw notFound()
    return (await this.present(db, c, [rowToRecord(c, row)], request, q))[0]!
  }

  private async readRow(db: Db, c: Collection, id: string): Promise<RecordJson | undefined> {
    return db.selectFrom(c.name).selectAll().where('id', '=', id).executeTakeFirst().then((row) => row && rowToRecord(c, row))
  }

  /**
   * Runs a write. Uniqueness was checked before on the same executor; a violation here is a race
   * with another writer and still becomes 400 `validation_not_unique`, never a 500 with SQL.
   */
  private async write<T>(c: Collection, values: Record<string, unknown>, failMessage: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (!(err instanceof SqlUniqueViolationError)) throw err // the SQL port's unique violation, every engine
      const field = Object.keys(values).find((name) => name !== 'id' && findSingleColumnUniqueIndex(c.indexes, name)) ?? 'id'
      throw validationError({ [field]: { code: 'validation_not_unique', message: 'Value must be unique.' } }, failMessage)
    }
  }

  private async doCreate(c: Collection, input: Record<string, unknown>, request: RequestInfo, uow: UnitOfWork): Promise<RecordJson> {
    if (c.type === 'view') throw unsupportedType()
    const db = uow.db
    const superuser = actsAsSuperuser(request)
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
    // Relations are counted by the statement that inserts or reads back the row (`insertRecord`).
    const folded = !Object.keys(errors).length ? foldableRelations(this.deps, c, values, errors) : undefined
    if (!folded) Object.assign(errors, await checkRelations(this.deps, db, c, values, errors))
    // A server-made id (15 random characters) is not looked up first: a clash is still caught by
    // the insert and answered like the others (`write`).
    const madeId = input.id === undefined || input.id === null || input.id === ''
    if (!Object.keys(errors).length) Object.assign(errors, await uniqueErrors(db, c, values, errors, undefined, madeId))
    if (Object.keys(errors).length) {
      if (access.kind === 'where' && !(await passesOnDummyRow(this.deps, db, c, values, invalid, ruled))) throw new ApiError('bad_request', 'Failed to create record.')
      const missing = folded ? await checkRelations(this.deps, db, c, values, invalid) : {} // reported before uniqueness
      throw validationError(Object.keys(missing).length ? missing : errors, 'Failed to create record.')
    }
    const options = { access, request: ruled, returning: this.caps.returning, relations: folded }
    const created = await this.write(c, values, 'Failed to create record.', () => insertRecord(db, c, values, options))
    uow.add({ action: 'create', collection: c, record: created, request })
    return created
  }

  private async doUpdate(c: Collection, id: string, input: Record<string, unknown>, request: RequestInfo, uow: UnitOfWork): Promise<RecordJson> {
    if (c.type === 'view') throw unsupportedType()
    const db = uow.db
    if (!actsAsSuperuser(request) && c.updateRule === null) throw onlySuperusers()
    if (hasNul(id)) throw notFound()
    // PocketBase's order: load the record, resolve the modifiers against it, then check the rule
    // with that body (404 when it does not match), and only then report validation errors.
    const superuser = actsAsSuperuser(request)
    // A rule that reads nothing of the request but the caller cannot depend on the body: it is
    // checked by the same read that loads the record (a miss is 404 either way, as PocketBase).
    const rule = c.updateRule === null ? undefined : compiledOf(c).ruleByText(c.updateRule)
    const early = !superuser && readsOnlyCaller(rule) ? this.access(c.updateRule, c, request) : undefined
    const [row] = (await db.executeQuery(viewById(db, c, early ?? ALLOW, id))).rows as Record<string, unknown>[]
    if (!row) throw notFound()
    const existing = rowToRecord(c, row)
    // The body the rules see drops hidden fields for everyone but superusers (as PocketBase's),
    // so it comes from a pass as the caller; a manager's own write is prepared again with rights.
    let prepared = await prepareRecord(c, input, existing, { capabilities: this.caps, isSuperuser: superuser, deferOldPassword: true })
    const ruled: RequestInfo = { ...request, body: rulesBody(prepared.body) }
    const manager = !superuser && (await isManager(this.deps, db, c, id, ruled))
    const access = early ?? this.access(c.updateRule, c, ruled)
    if (access.kind === 'where' && !early) {
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
    Object.assign(errors, await checkRelations(this.deps, db, c, values, errors))
    if (!Object.keys(errors).length) Object.assign(errors, await uniqueErrors(db, c, values, errors, id))
    if (Object.keys(errors).length) throw validationError(errors, 'Failed to update record.')
    sealValues(c, values, id)
    const updated = await this.write(c, values, 'Failed to update record.', async () => {
      const changes = Object.keys(values).length > 0
      if (changes && this.caps.returning) return rowToRecord(c, (await db.updateTable(c.name).set(values).where('id', '=', id).returningAll().executeTakeFirst())!)
      if (changes) await db.updateTable(c.name).set(values).where('id', '=', id).execute()
      return (await this.readRow(db, c, String(values.id ?? id)))!
    })
    uow.add({ action: 'update', collection: c, record: updated, request })
    return updated
  }

  private async doDelete(c: Collection, id: string, request: RequestInfo, uow: UnitOfWork): Promise<void> {
    if (c.type === 'view') throw unsupportedType()
    const access = this.access(c.deleteRule, c, request)
    if (access.kind === 'deny') throw onlySuperusers()
    if (hasNul(id)) throw notFound()
    let find = uow.db.selectFrom(c.name).selectAll().where(sql.ref(`${c.name}.id`), '=', id)
    if (access.kind === 'where') find = find.where(access.where)
    const row = await find.executeTakeFirst()
    if (!row) throw notFound()
    await this.deleteWithReferences(uow, c, rowToRecord(c, row), request, 0)
  }

  /**
   * Creates a record through the `onRecordCreate` hooks, in the open transaction or its own one.
   * The `after...Success` hooks run once that commits; the `after...Error` ones when it fails.
   */
  async create(collectionName: string, input: Record<string, unknown>, request: RequestInfo, q: ViewQuery = {}): Promise<RecordJson> {
    const c = this.registry.getOrThrow(collectionName)
    const e: RecordCreateEvent = { collection: c, data: input, request }
    const done = await this.units.runWrite(this.sql.writer().db, this.hooks.createError, { collection: c, request }, (uow) =>
      this.hooks.create.run(e, async (ev) => {
        ev.record = await this.doCreate(c, ev.data, request, uow)
      }),
    )
    await done.deliver()
    if (!e.record) throw stoppedByHook()
    return this.presentOne(c, e.record, request, q)
  }

  /** Updates a record through the `onRecordUpdate` hooks (see `create`). */
  async update(collectionName: string, id: string, input: Record<string, unknown>, request: RequestInfo, q: ViewQuery = {}): Promise<RecordJson> {
    const c = this.registry.getOrThrow(collectionName)
    const e: RecordUpdateEvent = { collection: c, id, data: input, request }
    const done = await this.units.runWrite(this.sql.writer().db, this.hooks.updateError, { collection: c, request }, (uow) =>
      this.hooks.update.run(e, async (ev) => {
        ev.record = await this.doUpdate(c, ev.id, ev.data, request, uow)
      }),
    )
    await done.deliver()
    if (!e.record) throw stoppedByHook()
    return this.presentOne(c, e.record, request, q)
  }

  /** Deletes a record through the `onRecordDelete` hooks, with its cascade (see `create`). */
  async delete(collectionName: string, id: string, request: RequestInfo): Promise<void> {
    const c = this.registry.getOrThrow(collectionName)
    let deleted = false
    const done = await this.units.runWrite(this.sql.writer().db, this.hooks.deleteError, { collection: c, request }, (uow) =>
      this.hooks.delete.run({ collection: c, id, request }, async (ev) => {
        await this.doDelete(c, ev.id, request, uow)
        deleted = true
      }),
    )
    await done.deliver()
    if (!deleted) throw stoppedByHook()
  }

  /** The record as the caller may see it, read where it was just written (the writer or the open transaction). */
  private async presentOne(c: Collection, record: RecordJson, request: RequestInfo, q: ViewQuery): Promise<RecordJson> {
    return (await this.present(this.units.active()?.db ?? this.sql.writer().db, c, [record], request, q))[0]!
  }

  /**
   * Deletes a record and settles what points at it, PocketBase's way: the record goes first (so
   * A<->B cascades end), then each referencing record loses the id; a cascadeDelete relation
   * deletes the referencing record only when that was its last id; a required relation left
   * empty refuses the whole delete (the transaction rolls back). Each deleted record and each
   * record that lost the id is a change of the unit of work (`cascade: true` but for the first).
   */
  private async deleteWithReferences(uow: UnitOfWork, c: Collection, record: RecordJson, request: RequestInfo, depth: number): Promise<void> {
    if (depth > 16) throw new ApiError('bad_request', 'Cascade delete is nested too deeply.')
    const db = uow.db
    const id = record.id
    await db.deleteFrom(c.name).where('id', '=', id).execute()
    uow.add({ action: 'delete', collection: c, record, request, ...(depth > 0 ? { cascade: true } : {}) })
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
            await this.cascadeDelete(uow, other, rec, request, depth + 1)
            continue
          }
          if (f.required && remaining.length === 0) {
            throw new ApiError('bad_request', 'Failed to delete record. Make sure that the record is not part of a required relation reference.')
          }
          const value = isMulti(f) ? JSON.stringify(remaining) : ''
          await db.updateTable(other.name).set({ [f.name]: value }).where('id', '=', rec.id).execute()
          uow.add({ action: 'update', collection: other, record: (await this.readRow(db, other, rec.id))!, request, cascade: true })
        }
      }
    }
  }

  /**
   * A record deleted by a `cascadeDelete` relation goes through the `onRecordDelete` hooks like
   * any delete (PocketBase's way); a hook that does not call `next()` refuses the whole delete.
   */
  private async cascadeDelete(uow: UnitOfWork, c: Collection, record: RecordJson, request: RequestInfo, depth: number): Promise<void> {
    let deleted = false
    await this.hooks.delete.run({ collection: c, id: record.id, request, record }, async () => {
      await this.deleteWithReferences(uow, c, record, request, depth)
      deleted = true
    })
    if (!deleted) throw stoppedByHook()
  }
}
