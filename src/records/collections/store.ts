import { ApiError } from '../../errors.ts'
import type { SqlDialect } from '../../sql/dialect.ts'
import type { SqlEngine } from '../../sql/sql.ts'
import { assignFieldIds } from '../fields/definition.ts'
import { isAuthCollection, nowDate, type Collection, type CollectionType } from '../model.ts'
import type { CollectionRegistry } from '../registry.ts'
import { buildSnapshot, type SchemaSnapshot } from '../compiled.ts'
import { bumpSchemaVersion, readSchemaVersion } from './version.ts'
import { defaultCollectionId, initDefaultFields, newCollection, newSecret } from './defaults.ts'
import { fieldError, hasErrors, setError, type ErrorTree } from './errors.ts'
import { formatIndex, parseIndex } from './index-definition.ts'
import { applySchema } from './apply-schema.ts'
import { type Db } from './schema-sync.ts'
import { completeChange, journaledChange, settle, type JournalEntry } from './schema-journal.ts'
import { applyInput, collectionToRow, rowToCollection, type CollectionRow } from './serialize.ts'
import { validateCollection, type ValidateContext } from './validate.ts'
import { breakingChanges, dependentViews } from './view-dependencies.ts'
import { readImport } from './import-input.ts'
import { storageKind } from '../columns.ts'
import type { FieldCipher } from '../fields/at-rest.ts'

export interface CollectionStoreOptions {
  /** Throws when a rule does not compile for a collection (connect the filter compiler here). */
  validateRule?: (collection: Collection, rule: string) => void
  /** Told what the schema journal had to settle or could not (a warning for the operator). */
  log?: (message: string, detail: Record<string, unknown>) => void
  /**
   * Test-only: called as each step of a schema change starts (a `SyncPhase`, `undo`, `clean-up`);
   * throwing from it fails that step, as a failed statement would.
   */
  failStep?: (step: string) => void
  /** Seals and opens fields marked `encrypt` (src/security/at-rest); without it they cannot be marked. */
  atRest?: FieldCipher
}

/** Told the schema version after each committed change made through this store; a promise it returns is awaited. */
export type ChangeListener = (version: string) => unknown

/**
 * The collections: `_collections` cached in memory as an immutable snapshot, compiled (frozen
 * objects: copy before changing; see `records/compiled.ts`), and the only writer of record-table
 * schemas. Each change also stores a new schema version (`version.ts`), which `sync.ts` uses to
 * tell the other nodes to reload.
 *
 * Every change validates the definition as PocketBase does, then changes the real table and the
 * `_collections` row together. Where the engine has transactional DDL that happens in one
 * transaction: a failure leaves nothing changed. Where each DDL statement commits by itself, the
 * change is journaled (schema-journal.ts): a failure halfway is undone, and what a crash leaves is
 * settled when the store next opens, so the table always ends up matching `_collections`.
 * NB: an import changes its collections one by one there: a failure keeps the ones before it.
 * Changes from one process are serialized; two nodes changing the schema at the same moment are
 * not coordinated.
 */
export class CollectionStore implements CollectionRegistry {
  readonly dialect: SqlDialect
  validateRule: CollectionStoreOptions['validateRule']
  /** NB: replaced whole (one assignment), never changed in place: see `snapshot`. */
  #snapshot: SchemaSnapshot = buildSnapshot('', [])
  /** Reloads are numbered as they start; an older one finishing late never replaces a newer one. */
  #reloads = 0
  #loaded = 0
  readonly #listeners = new Set<ChangeListener>()
  #queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly engine: SqlEngine,
    opts: CollectionStoreOptions = {},
  ) {
    this.dialect = engine.dialect
    this.validateRule = opts.validateRule
    this.#log = opts.log ?? (() => {})
    this.#failStep = opts.failStep ?? (() => {})
    this.#atRest = opts.atRest
  }

  readonly #atRest: FieldCipher | undefined

  readonly #log: NonNullable<CollectionStoreOptions['log']>
  readonly #failStep: NonNullable<CollectionStoreOptions['failStep']>

  /** A store with the collections loaded, after settling what an interrupted schema change left. */
  static async open(engine: SqlEngine, opts: CollectionStoreOptions = {}): Promise<CollectionStore> {
    const store = new CollectionStore(engine, opts)
    if (!engine.dialect.transactionalDdl) await engine.withoutStatementTimeout((db) => store.#settle(db))
    await store.reload()
    return store
  }

  /** Settles the journal's leftovers (see schema-journal.ts), saying so in the log. */
  async #settle(db: Db): Promise<void> {
    const settled = await settle(db, this.dialect)
    // Other nodes may have loaded the half-changed definition: a new version makes them reload.
    if (settled.length) await bumpSchemaVersion(db)
    for (const { entry, action } of settled) {
      const name = entry.next?.name ?? entry.prev?.name
      this.#log(`an interrupted change of collection ${name} was ${action === 'undone' ? 'undone' : 'completed'}`, { collection: entry.id, step: entry.step, action })
    }
  }

  /**
   * The schema as last loaded: the collections and their compiled forms at one version. A caller
   * that keeps this object sees one consistent schema however many reloads happen meanwhile.
   */
  get snapshot(): SchemaSnapshot {
    return this.#snapshot
  }

  /** The schema version loaded here ('' before the first change ever). */
  get version(): string {
    return this.#snapshot.version
  }

  get(idOrName: string): Collection | undefined {
    return this.#snapshot.get(idOrName)
  }

  getOrThrow(idOrName: string): Collection {
    return this.#snapshot.getOrThrow(idOrName)
  }

  /** NB: frozen (a snapshot's list): copy before sorting. */
  all(): Collection[] {
    return this.#list
  }

  get #list(): Collection[] {
    return this.#snapshot.collections as Collection[]
  }

  /** The version stored in the database now: one cheap read, to learn whether `reload()` is due. */
  storedVersion(): Promise<string> {
    return readSchemaVersion(this.engine.db)
  }

  /**
   * Re-reads `_collections` and swaps in a new snapshot. The version is read before the rows: a
   * change committed in between then leaves this node with new rows under the old version, which
   * the next version check reloads again, never with old rows under the new version, which it would
   * take for current.
   */
  async reload(): Promise<void> {
    const ticket = ++this.#reloads
    const version = await readSchemaVersion(this.engine.db)
    const rows = (await this.engine.db.selectFrom('_collections').selectAll().orderBy('created').orderBy('id').execute()) as CollectionRow[]
    if (ticket < this.#loaded) return
    this.#loaded = ticket
    this.#snapshot = buildSnapshot(version, rows.map(rowToCollection), this.#atRest)
  }

  /**
   * Calls `listener` with the new version after each change committed through this store (sync.ts
   * tells the other nodes); returns the function that removes it.
   */
  addChangeListener(listener: ChangeListener): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  /** Runs changes one at a time, then reloads the cache and notifies. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      try {
        const result = await fn()
        await this.reload()
        return result
      } catch (err) {
        await this.reload().catch(() => undefined)
        throw err
      }
    })
    this.#queue = run.catch(() => undefined)
    return run.then(async (v) => {
      // Awaited, so what a listener must finish before the caller answers (the records cache's
      // invalidation after a truncate) is done first.
      for (const listener of [...this.#listeners]) await listener(this.version)
      return v
    })
  }

  /**
   * Runs a schema change: in one transaction where DDL is transactional, and without the
   * statement time limit (a superuser's change of a large table, such as building an index, is
   * long by nature and must not be cut halfway).
   */
  async #inTransaction<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const transactional = this.dialect.transactionalDdl
    // The new schema version commits with the change, so no node can read one without the other.
    const change = async (db: Db) => {
      const result = await fn(db)
      await bumpSchemaVersion(db)
      return result
    }
    return this.engine.withoutStatementTimeout((db) => (transactional ? db.transaction().execute(change) : change(db)))
  }

  #context(others: Collection[], next: Collection): ValidateContext {
    const all = [...others, next]
    return {
      others,
      lookup: (key) => all.find((c) => c.id === key) ?? all.find((c) => c.name.toLowerCase() === key.toLowerCase()),
      validateRule: this.validateRule,
      canEncrypt: this.#atRest?.canSeal === true,
      tableExists: async (name) => {
        const tables = await this.engine.db.introspection.getTables()
        return tables.some((t) => t.name.toLowerCase() === name.toLowerCase())
      },
    }
  }

  /** PocketBase's default id (`pbc_` + crc32(type + name)), suffixed while taken. */
  #defaultId(type: CollectionType, name: string, others: Collection[]): string {
    if (!name) return ''
    const base = defaultCollectionId(type, name)
    let id = base
    for (let i = 2; others.some((o) => o.id === id) && i < 1000; i++) id = base + i
    return id
  }

  /**
   * Runs schema changes (in a transaction where DDL is transactional). A database error that is not
   * already an API error becomes a 400 with a generic message; NB: the driver's text stays in
   * `cause` (for logs) and never reaches the client.
   */
  async #ddl(message: string, fn: (db: Db) => Promise<void>): Promise<void> {
    try {
      await this.#inTransaction(fn)
    } catch (err) {
      if (err instanceof ApiError) throw err
      const apiErr = new ApiError('bad_request', `${message} The database rejected the change.`)
      ;(apiErr as Error).cause = err
      throw apiErr
    }
  }

  /** Fills what PocketBase fills before validating: ids, timestamps, system fields, index table names. */
  #finalize(c: Collection, prev: Collection | undefined, others: Collection[]): void {
    if (!prev) {
      if (!c.id) c.id = this.#defaultId(c.type, c.name, others)
      c.created = nowDate()
    }
    c.updated = nowDate()
    initDefaultFields(c)
    assignFieldIds(c.fields, prev?.fields)
    c.indexes = c.indexes.map((raw) => {
      const def = parseIndex(raw)
      return def && def.table !== c.name ? formatIndex({ ...def, table: c.name }) : raw
    })
    if (prev && isAuthCollection(c) && isAuthCollection(prev) && c.authRule !== prev.authRule) {
      // Like PocketBase: a changed auth rule invalidates the auth tokens issued under the old one.
      c.authToken = { ...c.authToken, secret: newSecret() }
    }
  }

  async #validateOrThrow(next: Collection, prev: Collection | undefined, ctx: ValidateContext, message: string): Promise<void> {
    const errors = await validateCollection(next, prev, ctx)
    if (hasErrors(errors)) throw new ApiError('validation_failed', message, errors)
  }

  /**
   * One collection's change: its table (or view) and its `_collections` row; `prev` undefined
   * creates it, `next` undefined deletes it. Runs inside `#ddl`: in its transaction where DDL is
   * transactional; elsewhere journaled, undone on failure (see schema-journal.ts).
   */
  async #change(db: Db, prev: Collection | undefined, next: Collection | undefined, lookup: (k: string) => Collection | undefined, message?: string): Promise<void> {
    const entry: JournalEntry = { id: (next ?? prev)!.id, prev, next, step: 'begin' }
    const writeRow = (trx: Db) => (next ? this.#writeRow(trx, next, !prev) : trx.deleteFrom('_collections').where('id', '=', entry.id).execute().then(() => undefined))
    if (this.dialect.transactionalDdl) {
      if (next) await applySchema(db, this.dialect, next, prev, lookup, message, async (p) => this.#failStep(p))
      await writeRow(db)
      this.#failStep('clean-up')
      await completeChange(db, entry)
      return
    }
    await this.#settle(db)
    await journaledChange(db, this.dialect, entry, {
      apply: (onPhase) => applySchema(db, this.dialect, next!, prev, lookup, message, onPhase),
      writeRow,
      failStep: this.#failStep,
      log: this.#log,
    })
  }

  async #writeRow(db: Db, c: Collection, isNew: boolean): Promise<void> {
    const row = collectionToRow(c)
    if (isNew) await db.insertInto('_collections').values(row).execute()
    else await db.updateTable('_collections').set(row).where('id', '=', c.id).execute()
  }

  /** POST /api/collections: a new collection from PocketBase's JSON. */
  async create(input: Record<string, unknown>): Promise<Collection> {
    const id = await this.#exclusive(async () => {
      const type = (typeof input.type === 'string' && input.type ? input.type : 'base') as CollectionType
      const name = typeof input.name === 'string' ? input.name : ''
      const others = this.#list
      const c = newCollection(type, name, (typeof input.id === 'string' && input.id) || this.#defaultId(type, name, others))
      const problems = applyInput(c, input)
      this.#finalize(c, undefined, others)
      const ctx = this.#context(others, c)
      const errors: ErrorTree = {}
      for (const p of problems) setError(errors, p.path, fieldError(p.code, p.message))
      if (hasErrors(errors)) throw new ApiError('validation_failed', 'Failed to create collection.', errors)
      await this.#validateOrThrow(c, undefined, ctx, 'Failed to create collection.')
      await this.#ddl('Failed to create collection.', (db) => this.#change(db, undefined, c, ctx.lookup, 'Failed to create collection.'))
      return c.id
    })
    return this.getOrThrow(id)
  }

  /** PATCH /api/collections/:idOrName: overlays the input on the current definition. */
  async update(idOrName: string, input: Record<string, unknown>): Promise<Collection> {
    const id = await this.#exclusive(async () => {
      const prev = this.getOrThrow(idOrName)
      const next = structuredClone(prev) as Collection
      const problems = applyInput(next, input)
      const others = this.#list.filter((c) => c.id !== prev.id)
      this.#finalize(next, prev, others)
      const errors: ErrorTree = {}
      for (const p of problems) setError(errors, p.path, fieldError(p.code, p.message))
      if (typeof input.type === 'string' && input.type !== prev.type) {
        setError(errors, ['type'], fieldError('validation_collection_type_change', 'Collection type cannot be changed.'))
      }
      if (hasErrors(errors)) throw new ApiError('validation_failed', 'Failed to update collection.', errors)
      const ctx = this.#context(others, next)
      await this.#validateOrThrow(next, prev, ctx, 'Failed to update collection.')
      if (next.type !== 'view') {
        const change = breakingChanges(next, prev, (a, b) => storageKind(a) !== storageKind(b))
        const views = change.table ? dependentViews(others, prev.name) : change.columns.length ? dependentViews(others, prev.name, change.columns) : []
        if (views.length) {
          throw new ApiError('bad_request', `Failed to update collection: the view collection(s) ${views.map((v) => v.name).join(', ')} use the renamed, removed or converted table/fields; change those views first.`)
        }
      }
      await this.#ddl('Failed to update collection.', (db) => this.#change(db, prev, next, ctx.lookup, 'Failed to update collection.'))
      return next.id
    })
    return this.getOrThrow(id)
  }

  /** DELETE /api/collections/:idOrName: drops the table (or view) and the definition. */
  delete(idOrName: string): Promise<void> {
    return this.#exclusive(async () => {
      const c = this.getOrThrow(idOrName)
      if (c.system) throw new ApiError('bad_request', 'Failed to delete collection', { system: fieldError('validation_system_collection', `[${c.name}] system collections cannot be deleted.`) })
      const refs = this.#references(c)
      if (refs.length) throw new ApiError('bad_request', `Failed to delete collection probably due to existing reference in ${refs.map((r) => r.name).join(', ')}`)
      const views = dependentViews(this.#list.filter((v) => v.id !== c.id), c.name)
      if (views.length) throw new ApiError('bad_request', `Failed to delete collection due to existing view dependency in ${views.map((v) => v.name).join(', ')}`)
      await this.#ddl('Failed to delete collection.', (db) => this.#change(db, c, undefined, (k) => this.get(k)))
    })
  }

  /** Other collections with a relation field pointing at `c`. */
  #references(c: Collection, among: Collection[] = this.#list): Collection[] {
    return among.filter((o) => o.id !== c.id && o.fields.some((f) => f.type === 'relation' && f.collectionId === c.id))
  }

  /**
   * DELETE /api/collections/:c/truncate: deletes every row. NB: no cascade to relations and no file
   * clean-up here; the records API owns both.
   */
  truncate(idOrName: string): Promise<void> {
    return this.#exclusive(async () => {
      const c = this.getOrThrow(idOrName)
      if (c.type === 'view') throw new ApiError('bad_request', "View collections cannot be truncated since they don't store their own records.")
      await this.engine.db.deleteFrom(c.name).execute()
    })
  }

  /**
   * PUT /api/collections/import: creates or replaces the given collections (matched by id, then
   * name); with `deleteMissing`, deletes the non-system collections not listed and the fields not
   * listed. All definitions are validated against the imported set before any table changes.
   */
  import(input: unknown[], deleteMissing: boolean): Promise<void> {
    return this.#exclusive(async () => {
      const fail = (message: string): never => {
        throw new ApiError('validation_failed', 'Failed to import collections.', {
          collections: fieldError('validation_collections_import_failure', message),
        })
      }
      if (!input.length) fail('Failed to import the collections configuration. Raw error:\nno collections to import')
      const items = readImport(input, deleteMissing, (key) => this.get(key), (type, name) => this.#defaultId(type, name, this.#list), fail)
      const importedIds = new Set<string>()
      const removed = deleteMissing ? this.#list.filter((c) => !c.system && !items.some((it) => it.prev?.id === c.id)) : []
      const kept = this.#list.filter((c) => !removed.includes(c) && !items.some((it) => it.prev?.id === c.id))
      for (const it of items) {
        this.#finalize(it.next, it.prev, [...kept, ...items.filter((x) => x !== it).map((x) => x.next)])
        if (importedIds.has(it.next.id)) fail(`Duplicated collection id ${it.next.id}.`)
        importedIds.add(it.next.id)
      }
      // Views last (they select from the others), then in creation order.
      items.sort((a, b) => Number(a.next.type === 'view') - Number(b.next.type === 'view') || a.next.created.localeCompare(b.next.created))
      for (const it of items) {
        const others = [...kept, ...items.filter((x) => x !== it).map((x) => x.next)]
        const errors = await validateCollection(it.next, it.prev, this.#context(others, it.next))
        if (hasErrors(errors)) fail(`Data validations failed for collection "${it.next.name}" (${it.next.id}):\n${JSON.stringify(errors, null, 2)}`)
      }
      for (const r of removed) {
        const refs = this.#references(r, [...kept, ...items.map((x) => x.next)])
        if (refs.length) fail(`Collection "${r.name}" cannot be deleted: referenced by ${refs.map((x) => x.name).join(', ')}.`)
      }
      const all = [...kept, ...items.map((x) => x.next)]
      const lookup = (k: string) => all.find((c) => c.id === k) ?? all.find((c) => c.name.toLowerCase() === k.toLowerCase())
      await this.#ddl('Failed to import collections.', async (db) => {
        // Views first: they may depend on tables that are about to change.
        for (const r of [...removed].sort((a, b) => Number(b.type === 'view') - Number(a.type === 'view'))) await this.#change(db, r, undefined, lookup)
        for (const it of items) {
          try {
            await this.#change(db, it.prev, it.next, lookup)
          } catch (err) {
            if (err instanceof ApiError) fail(`Failed to save collection "${it.next.name}": ${JSON.stringify(err.data)}`)
            throw err
          }
        }
      })
    })
  }
}
