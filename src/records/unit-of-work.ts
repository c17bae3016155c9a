import { AsyncLocalStorage } from 'node:async_hooks'
import type { Kysely } from 'kysely'
import type { RecordHooks } from './hooks.ts'
import type { Collection } from './model.ts'
import type { RecordJson, RequestInfo } from './record.ts'

// NB: `any` is Kysely's convention for a schema known only at run time (collections).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

/** What a committed write did. */
export type RecordAction = 'create' | 'update' | 'delete'

/**
 * One record change of a committed unit of work, what realtime, job enqueue and cache
 * invalidation subscribe to (`records.onCommit`).
 * NB: `record` is the stored form, hidden fields, the password hash and `tokenKey` included:
 * whoever forwards it to a client must pass it through the collection's visibility rules first.
 */
export interface RecordChange {
  action: RecordAction
  collection: Collection
  /** The record after the change; for a delete, as it was just before. */
  record: RecordJson
  /** Who asked for the write (for a cascade, the request that deleted the first record). */
  request: RequestInfo
  /**
   * True for changes the service made as a consequence of another write: records deleted by a
   * `cascadeDelete` relation, and records whose relation lost the id of a deleted record.
   */
  cascade?: boolean
}

/** Receives the changes of each committed unit of work, in commit order, once per commit. */
export type CommitListener = (changes: readonly RecordChange[]) => void | Promise<void>

/** An open transaction of the records service and the changes its writes collected so far. */
export class UnitOfWork {
  readonly changes: RecordChange[] = []
  /** Work to run once the outermost transaction commits (a job added to a queue outside the database); dropped on rollback. */
  readonly afterCommit: (() => Promise<void>)[] = []
  /** Work to run once the outermost transaction has rolled back (removing files its writes stored); errors are ignored. */
  readonly afterRollback: (() => Promise<void>)[] = []
  /** False once committed or rolled back: the transaction can no longer be used. */
  open = true

  constructor(
    /** The transaction every read and write of this unit runs on. */
    readonly db: Db,
  ) {}

  /** Notes one change, delivered only if the outermost transaction commits. */
  add(change: RecordChange): void {
    if (!this.open) throw new Error('records: this transaction has already finished')
    this.changes.push(change)
  }
}

/** The result of a unit body, with what to do once the caller is ready to see side effects. */
export interface UnitResult<T> {
  value: T
  /** Delivers the committed changes (listeners, then after-success hooks); a no-op for a joined unit. */
  deliver: () => Promise<void>
}

/**
 * Opens, joins and finishes units of work. The open unit is carried by AsyncLocalStorage, so any
 * records call made while one runs (by the service itself, a hook or app code) joins it rather
 * than opening a second transaction.
 * NB: a second transaction while one is open would deadlock on SQLite (one connection, one
 * writer); joining is what makes hooks that write records safe there.
 */
export class Units {
  private readonly current = new AsyncLocalStorage<UnitOfWork>()
  private readonly listeners = new Set<CommitListener>()
  /** Units open now; the storage is switched off at zero (see `carry`). */
  private opened = 0

  constructor(private readonly hooks: RecordHooks) {}

  /** The open unit this async context runs in, if any. */
  active(): UnitOfWork | undefined {
    const u = this.current.getStore()
    return u?.open ? u : undefined
  }

  /** Runs `fn` with `uow` as the active unit (for a transaction handle used from another context). */
  bind<T>(uow: UnitOfWork, fn: () => Promise<T>): Promise<T> {
    if (!uow.open) return Promise.reject(new Error('records: this transaction has already finished'))
    return this.current.run(uow, fn)
  }

  /**
   * Runs `fn` inside the active unit, or inside a new transaction on `writer` that commits when
   * `fn` resolves and rolls back (dropping every change) when it throws.
   */
  async run<T>(writer: Db, fn: (uow: UnitOfWork) => Promise<T>): Promise<UnitResult<T>> {
    const joined = this.active()
    if (joined) return { value: await fn(joined), deliver: async () => {} }
    let uow: UnitOfWork | undefined
    try {
      const value = await writer.transaction().execute((trx) => {
        const u = new UnitOfWork(trx)
        uow = u
        return this.carry(u, () => fn(u))
      })
      const { changes, afterCommit } = uow!
      return { value, deliver: () => this.deliver(changes, afterCommit) }
    } catch (err) {
      if (uow) for (const fn of uow.afterRollback) await fn().catch(() => undefined)
      throw err
    } finally {
      if (uow) uow.open = false
    }
  }

  /**
   * Runs `fn` with `u` as the active unit.
   * NB: on Node 20 an AsyncLocalStorage that has ever been used puts a hook on every promise the
   * process makes from then on, and a request makes dozens. It is disabled again whenever no unit
   * is open (nothing can be looking for one then), so reads pay nothing; `run` turns it back on.
   */
  private async carry<T>(u: UnitOfWork, fn: () => Promise<T>): Promise<T> {
    this.opened++
    try {
      return await this.current.run(u, fn)
    } finally {
      if (--this.opened === 0) this.current.disable()
    }
  }

  /**
   * `run` for one record write: when it fails, its `after...Error` hooks hear of it (after the
   * rollback when the write was its own unit; inside the open transaction when it joined one).
   */
  async runWrite(writer: Db, errorHook: RecordHooks['createError'], e: { collection: Collection; request: RequestInfo }, fn: (uow: UnitOfWork) => Promise<void>): Promise<UnitResult<void>> {
    try {
      return await this.run(writer, fn)
    } catch (error) {
      await errorHook.run({ ...e, error }, async () => {})
      throw error
    }
  }

  /** Adds a listener for committed changes; returns the function that removes it. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  /**
   * After a commit: the listeners get the whole list, then each change runs its after-success
   * hooks, in order. Every listener and hook runs even when one fails; the first failure is then
   * thrown (the writes stay committed), as an after-success hook's error was before.
   */
  private async deliver(changes: readonly RecordChange[], afterCommit: readonly (() => Promise<void>)[] = []): Promise<void> {
    if (!changes.length && !afterCommit.length) return
    const failures: unknown[] = []
    const attempt = async (fn: () => unknown) => {
      try {
        await fn()
      } catch (err) {
        failures.push(err)
      }
    }
    for (const fn of afterCommit) await attempt(fn)
    for (const listener of [...this.listeners]) await attempt(() => listener(changes))
    const done = async () => {}
    for (const ch of changes) {
      const base = { collection: ch.collection, request: ch.request }
      if (ch.action === 'create') await attempt(() => this.hooks.createSuccess.run({ ...base, record: ch.record }, done))
      else if (ch.action === 'update') await attempt(() => this.hooks.updateSuccess.run({ ...base, record: ch.record }, done))
      else await attempt(() => this.hooks.deleteSuccess.run({ ...base, id: ch.record.id, record: ch.record }, done))
    }
    if (failures.length) throw failures[0]
  }
}
