import type { Cache } from './cache.ts'

/**
 * The in-process cache: the embedded default. A least-recently-used map bounded by bytes, with a
 * time to live per entry. Written here rather than taken from `lru-cache`: the needs are small
 * (get, set, delete, a byte bound, TTL checked on read) and the injectable clock keeps the
 * contract suite free of sleeps.
 *
 * A JavaScript Map keeps insertion order, so moving an entry to the end on every read makes the
 * first entry the least recently used one; eviction takes from the front until the total fits.
 * Expired entries are dropped when read, and otherwise age out through the LRU order (they are
 * never read, so they drift to the front); the byte bound holds either way.
 */
export interface MemoryCacheOptions {
  /** The most bytes held (keys and values, plus a fixed overhead per entry); default 64 MiB. */
  maxBytes?: number
  /** Milliseconds since the epoch; tests inject a clock they can move. */
  now?: () => number
}

interface Entry {
  value: Buffer
  expiresAt: number
  bytes: number
}

/** A rough cost of a Map entry and its object, so a million tiny entries still count. */
const ENTRY_OVERHEAD = 64

export class MemoryCache implements Cache {
  readonly name = 'memory' as const
  readonly #map = new Map<string, Entry>()
  readonly #maxBytes: number
  readonly #now: () => number
  #bytes = 0

  constructor(opts: MemoryCacheOptions = {}) {
    this.#maxBytes = Math.max(1, opts.maxBytes ?? 64 * 1024 * 1024)
    this.#now = opts.now ?? Date.now
  }

  /** Bytes held now (keys, values and per-entry overhead). */
  get bytes(): number {
    return this.#bytes
  }

  /** Entries held now (expired ones not yet dropped included). */
  get size(): number {
    return this.#map.size
  }

  async get(key: string): Promise<Buffer | undefined> {
    const entry = this.#map.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= this.#now()) {
      this.#remove(key, entry)
      return undefined
    }
    // Most recently used goes to the end.
    this.#map.delete(key)
    this.#map.set(key, entry)
    return Buffer.from(entry.value)
  }

  async set(key: string, value: string | Buffer, ttlMs: number): Promise<void> {
    const old = this.#map.get(key)
    if (old) this.#remove(key, old)
    // A copy, so the caller changing its buffer later does not change the cache.
    const stored = Buffer.from(value)
    const bytes = stored.length + Buffer.byteLength(key) + ENTRY_OVERHEAD
    // NB: a value larger than the whole cache is not stored (it would evict everything and then itself).
    if (bytes > this.#maxBytes) return
    this.#map.set(key, { value: stored, expiresAt: this.#now() + Math.max(1, Math.ceil(ttlMs)), bytes })
    this.#bytes += bytes
    for (const [k, e] of this.#map) {
      if (this.#bytes <= this.#maxBytes) break
      this.#remove(k, e)
    }
  }

  async delete(key: string): Promise<void> {
    const entry = this.#map.get(key)
    if (entry) this.#remove(key, entry)
  }

  async close(): Promise<void> {
    this.#map.clear()
    this.#bytes = 0
  }

  #remove(key: string, entry: Entry): void {
    this.#map.delete(key)
    this.#bytes -= entry.bytes
  }
}

/** The engine the composition root opens when no cache URL is configured. */
export function memoryCache(opts: MemoryCacheOptions = {}): Cache {
  return new MemoryCache(opts) satisfies Cache
}
