import type { Collection } from './model.ts'

/**
 * The collections, loaded from `_collections` into memory and reloaded after every change.
 * Lookups are synchronous so the filter compiler and the request path never wait on SQL for schema.
 * OWNER: collections (src/records/collections/).
 */
export interface CollectionRegistry {
  /** By id or by name (names are matched case-insensitively, like PocketBase). */
  get(idOrName: string): Collection | undefined
  /** Like `get`, but throws ApiError('not_found') with PocketBase's message. */
  getOrThrow(idOrName: string): Collection
  all(): Collection[]
  /** Re-reads `_collections` (after a change here, or on another node). */
  reload(): Promise<void>
}
