import type { SqlDialect } from '../../sql/dialect.ts'
import type { Collection } from '../model.ts'
import type { RequestInfo } from '../record.ts'
import type { CollectionRegistry } from '../registry.ts'

/** Where a filter, sort or rule is evaluated. */
export interface FilterScope {
  /** The collection being queried; its table is referenced as `alias` (default: its name). */
  collection: Collection
  alias?: string
  registry: CollectionRegistry
  /** The engine's dialect: its capability flags and SQL fragments. */
  capabilities: SqlDialect
  request: RequestInfo
  /**
   * Whether hidden fields may be named. True for API rules (written by superusers) and for
   * superuser requests; false for a client's `filter`/`sort`, which then get 400 on a hidden field.
   */
  allowHidden: boolean
}
