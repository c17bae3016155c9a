/**
 * The cache port: values that can be rebuilt (compiled views, rendered responses, lookups),
 * kept for a while to save work. The embedded engine is an in-process LRU bounded in bytes
 * (`memory.ts`); the scaled one Redis (`redis.ts`), shared by every API node.
 *
 * A cache may forget anything at any time (eviction, expiry, an outage), so callers treat a miss
 * as normal and never store the only copy of anything. Operations never throw because the cache
 * is unavailable: an engine that cannot reach its store behaves as an empty cache.
 *
 * Values are bytes: a string is stored as its UTF-8 bytes and read back as a Buffer
 * (`(await cache.get(k))?.toString()`), so every engine returns the same thing.
 */
export interface Cache {
  /** For logs only: never branch on it. */
  readonly name: 'memory' | 'redis'
  /** The value at `key`, or undefined when missing, expired or unavailable. A copy: changing it changes nothing. */
  get(key: string): Promise<Buffer | undefined>
  /** Stores `value` at `key` for `ttlMs` (at least 1 ms), replacing any value and expiry. */
  set(key: string, value: string | Buffer, ttlMs: number): Promise<void>
  /** Removes `key` (an invalidation); no error when it is missing. */
  delete(key: string): Promise<void>
  close(): Promise<void>
}
