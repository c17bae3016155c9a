import type { Collection } from './model.ts'

/**
 * The collections, loaded from `_collections` into memory and reloaded after every change.
 * Lookups are synchronous so the filter compiler and the request path never wait on SQL for schema.
 * What depends only on a collection's definition (parsed rules, hidden fields, the row decoder)
 * is at `compiledOf(collection)` (`compiled.ts`), built once per collection per schema version.
 * OWNER: collections (src/records/collections/).
 */
export interface CollectionRegistry {
  /** By id or by name (names are matched case-insensitively, like PocketBase). */
  get(idOrName: string): Collection | undefined
  /** Like `get`, but throws ApiError('not_found') with PocketBase's message. */
  getOrThrow(idOrName: string): Collection
  all(): Collection[]
  /** Re-reads `_collections` (after a change here, or on another node: see `collections/sync.ts`). */
  reload(): Promise<void>
}
