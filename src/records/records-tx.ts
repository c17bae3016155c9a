import type { Kysely } from 'kysely'
import type { Collection } from './model.ts'
import type { RecordJson, RequestInfo } from './record.ts'
import type { ListQuery, ListResult, RecordsService, ViewQuery } from './records-service.ts'
import type { UnitOfWork, Units } from './unit-of-work.ts'

/**
 * What can run a unit of work: the records service, or a transaction handle (which joins itself).
 * Functions that write records take this, so a caller already in a transaction can pass its `tx`.
 */
export interface Transactional {
  transaction<T>(fn: (tx: RecordsTransaction) => Promise<T>): Promise<T>
}

/**
 * The records service bound to one open transaction (`records.transaction(async (tx) => ...)`):
 * the same reads and writes, with the same rules, validation and hooks, all on that transaction.
 * Its changes are delivered once the outermost transaction commits, and dropped if it rolls back.
 * NB: when a write inside fails, let the error reach `transaction` (which rolls back): catching
 * it and going on may commit part of that write (a delete's cascade, say). A validation error
 * (thrown before anything is written) is safe to catch.
 */
export class RecordsTransaction {
  constructor(
    private readonly service: RecordsService,
    private readonly units: Units,
    private readonly uow: UnitOfWork,
  ) {}

  /**
   * The transaction itself, for reads the service does not offer (a count, a lookup by email).
   * NB: a write through it skips validation, hooks and events: write through the methods below.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get db(): Kysely<any> {
    return this.uow.db
  }

  /** A collection by id or name, if it exists. */
  collection(idOrName: string): Collection | undefined {
    return this.service.collection(idOrName)
  }

  list(collection: string, q: ListQuery, request: RequestInfo): Promise<ListResult> {
    return this.units.bind(this.uow, () => this.service.list(collection, q, request))
  }

  view(collection: string, id: string, request: RequestInfo, q: ViewQuery = {}): Promise<RecordJson> {
    return this.units.bind(this.uow, () => this.service.view(collection, id, request, q))
  }

  create(collection: string, input: Record<string, unknown>, request: RequestInfo, q: ViewQuery = {}): Promise<RecordJson> {
    return this.units.bind(this.uow, () => this.service.create(collection, input, request, q))
  }

  update(collection: string, id: string, input: Record<string, unknown>, request: RequestInfo, q: ViewQuery = {}): Promise<RecordJson> {
    return this.units.bind(this.uow, () => this.service.update(collection, id, input, request, q))
  }

  delete(collection: string, id: string, request: RequestInfo): Promise<void> {
    return this.units.bind(this.uow, () => this.service.delete(collection, id, request))
  }

  /** Joins this transaction (nothing new is opened): `fn` gets this same handle. */
  transaction<T>(fn: (tx: RecordsTransaction) => Promise<T>): Promise<T> {
    return this.units.bind(this.uow, () => fn(this))
  }
}
