import type { RawBuilder, SqlBool } from 'kysely'
import type { SqlCapabilities } from '../../sql/sql.ts'
import type { Collection } from '../model.ts'
import type { RequestInfo } from '../record.ts'
import type { CollectionRegistry } from '../registry.ts'

/**
 * Where a filter, sort or rule is evaluated.
 * OWNER: filter (src/records/filter/). INTERFACE STUB: replaced by the filter work.
 */
export interface FilterScope {
  /** The collection being queried; its table is referenced as `alias` (default: its name). */
  collection: Collection
  alias?: string
  registry: CollectionRegistry
  capabilities: SqlCapabilities
  request: RequestInfo
  /**
   * Whether hidden fields may be named. True for API rules (written by superusers) and for
   * superuser requests; false for a client's `filter`/`sort`, which then get 400 on a hidden field.
   */
  allowHidden: boolean
}

/**
 * Compiles a PocketBase filter expression to one self-contained, parameterised SQL boolean that
 * references only the main table (relations become subqueries). Throws ApiError('invalid_filter').
 * An empty expression compiles to TRUE.
 */
export function compileFilter(_expr: string, _scope: FilterScope): RawBuilder<SqlBool> {
  throw new Error('compileFilter: not built yet')
}

/** Compiles a `sort` parameter (`-created,title,@random,@rowid`) to ORDER BY items. Throws ApiError('invalid_filter'). */
export function compileSort(_sort: string, _scope: FilterScope): RawBuilder<unknown>[] {
  throw new Error('compileSort: not built yet')
}
