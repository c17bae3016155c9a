import type { Collection } from './model.ts'
import type { RecordJson, RequestInfo } from './record.ts'

/**
 * Record hooks for app code, PocketBase's way: a `before` hook wraps the operation and calls
 * `next()` to let it happen (it may change `e.data` first, or throw an ApiError to refuse);
 * `after...Success` hooks run once the change is committed, `after...Error` ones when it failed.
 * A hook bound with collection names runs only for those collections.
 *
 * `before` hooks run inside the write's transaction (the unit of work): a record written from one
 * (through `app.records`) joins it and rolls back with it. `after...Success` hooks run from the
 * committed changes (see `RecordsService.onCommit`), in order, after the outermost transaction
 * commits, and never for rolled-back work (a failed batch fires none). A cascade delete runs the
 * delete hooks of every record it removes. `after...Error` hooks run when the write itself fails.
 */
export type Next = () => Promise<void>
export type Handler<E> = (e: E, next: Next) => Promise<void> | void

export interface RecordCreateEvent {
  collection: Collection
  /** The submitted values (API form); a hook may change them before `next()`. */
  data: Record<string, unknown>
  request: RequestInfo
  /** Set once `next()` has created the record. */
  record?: RecordJson
}
export interface RecordUpdateEvent extends RecordCreateEvent {
  id: string
}
export interface RecordDeleteEvent {
  collection: Collection
  id: string
  request: RequestInfo
  /** The stored record, when known (always in `after...Success` hooks and cascade deletes). */
  record?: RecordJson
}
export interface RecordSuccessEvent {
  collection: Collection
  record: RecordJson
  request: RequestInfo
}
export interface RecordErrorEvent {
  collection: Collection
  error: unknown
  request: RequestInfo
}

class Hook<E extends { collection: Collection }> {
  private readonly handlers: { fn: Handler<E>; only?: Set<string> }[] = []

  add(fn: Handler<E>, collections: string[]): void {
    this.handlers.push({ fn, only: collections.length ? new Set(collections) : undefined })
  }

  /** Runs the matching handlers in order, each inside the previous one's `next()`, then `final`. */
  async run(e: E, final: (e: E) => Promise<void>): Promise<void> {
    const chain = this.handlers.filter((h) => !h.only || h.only.has(e.collection.name) || h.only.has(e.collection.id))
    const step = async (i: number): Promise<void> => {
      const h = chain[i]
      if (!h) return final(e)
      let called = false
      await h.fn(e, async () => {
        if (called) return
        called = true
        await step(i + 1)
      })
    }
    await step(0)
  }
}

export class RecordHooks {
  readonly create = new Hook<RecordCreateEvent>()
  readonly update = new Hook<RecordUpdateEvent>()
  readonly delete = new Hook<RecordDeleteEvent>()
  readonly createSuccess = new Hook<RecordSuccessEvent>()
  readonly updateSuccess = new Hook<RecordSuccessEvent>()
  readonly deleteSuccess = new Hook<RecordDeleteEvent>()
  readonly createError = new Hook<RecordErrorEvent>()
  readonly updateError = new Hook<RecordErrorEvent>()
  readonly deleteError = new Hook<RecordErrorEvent>()

  onRecordCreate(fn: Handler<RecordCreateEvent>, ...collections: string[]): void {
    this.create.add(fn, collections)
  }
  onRecordUpdate(fn: Handler<RecordUpdateEvent>, ...collections: string[]): void {
    this.update.add(fn, collections)
  }
  onRecordDelete(fn: Handler<RecordDeleteEvent>, ...collections: string[]): void {
    this.delete.add(fn, collections)
  }
  onRecordAfterCreateSuccess(fn: Handler<RecordSuccessEvent>, ...collections: string[]): void {
    this.createSuccess.add(fn, collections)
  }
  onRecordAfterUpdateSuccess(fn: Handler<RecordSuccessEvent>, ...collections: string[]): void {
    this.updateSuccess.add(fn, collections)
  }
  onRecordAfterDeleteSuccess(fn: Handler<RecordDeleteEvent>, ...collections: string[]): void {
    this.deleteSuccess.add(fn, collections)
  }
  onRecordAfterCreateError(fn: Handler<RecordErrorEvent>, ...collections: string[]): void {
    this.createError.add(fn, collections)
  }
  onRecordAfterUpdateError(fn: Handler<RecordErrorEvent>, ...collections: string[]): void {
    this.updateError.add(fn, collections)
  }
  onRecordAfterDeleteError(fn: Handler<RecordErrorEvent>, ...collections: string[]): void {
    this.deleteError.add(fn, collections)
  }
}
