import type { Counters, CounterState } from './counters.ts'

/**
 * The in-process counters engine: the embedded default for one node. With several API nodes each
 * would count alone (limits multiply by the node count), so clusters use the Redis engine.
 *
 * Memory is bounded: expired keys are swept as the map is used (no timer to keep the process
 * alive), and at `maxKeys` the key created longest ago is evicted. Keys are held in creation order
 * (a JavaScript Map keeps insertion order, and a re-created key moves to the end), and callers use
 * a handful of fixed windows, so the oldest key is the one closest to expiring: the least to lose.
 * NB: eviction lets an evicted client start afresh, so `maxKeys` must be far above the number of
 * clients that can be counted within one window (each throttled login costs at most 2 keys).
 */
export interface MemoryCountersOptions {
  /** The most keys held at once; default 100 000 (tens of MB at most). */
  maxKeys?: number
  /** Milliseconds since the epoch; tests inject a clock they can move. */
  now?: () => number
}

interface Entry {
  /** The number for counters, else the string set by `setIfAbsent`. */
  value: number | string
  expiresAt: number
}

export class MemoryCounters implements Counters {
  readonly name = 'memory' as const
  readonly #map = new Map<string, Entry>()
  readonly #maxKeys: number
  readonly #now: () => number
  #opsSinceSweep = 0

  constructor(opts: MemoryCountersOptions = {}) {
    this.#maxKeys = Math.max(1, opts.maxKeys ?? 100_000)
    this.#now = opts.now ?? Date.now
  }

  /** How many keys are held (expired ones not yet swept included). */
  get size(): number {
    return this.#map.size
  }

  async increment(key: string, ttlMs: number, by = 1): Promise<CounterState> {
    const now = this.#now()
    const entry = this.#live(key, now)
    if (entry) {
      const current = typeof entry.value === 'number' ? entry.value : Number(entry.value)
      // Redis refuses INCRBY on a value that is not an integer; so do we, so both engines agree.
      if (!Number.isSafeInteger(current)) throw new Error(`counters: ${key} does not hold an integer`)
      entry.value = current + by
      return { count: entry.value, ttlMs: entry.expiresAt - now }
    }
    const created: Entry = { value: by, expiresAt: now + Math.max(1, Math.ceil(ttlMs)) }
    this.#insert(key, created, now)
    return { count: by, ttlMs: created.expiresAt - now }
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const now = this.#now()
    if (this.#live(key, now)) return false
    this.#insert(key, { value, expiresAt: now + Math.max(1, Math.ceil(ttlMs)) }, now)
    return true
  }

  async raise(key: string, value: number, ttlMs: number): Promise<number> {
    const now = this.#now()
    const entry = this.#live(key, now)
    const current = entry ? Number(entry.value) : NaN
    if (current >= value) return current
    this.#map.delete(key)
    this.#insert(key, { value, expiresAt: now + Math.max(1, Math.ceil(ttlMs)) }, now)
    return value
  }

  async get(key: string): Promise<CounterState | null> {
    const now = this.#now()
    const entry = this.#live(key, now)
    return entry ? { count: typeof entry.value === 'number' ? entry.value : Number(entry.value), ttlMs: entry.expiresAt - now } : null
  }

  async delete(key: string): Promise<void> {
    this.#map.delete(key)
  }

  async close(): Promise<void> {
    this.#map.clear()
  }

  /** The entry at `key` if it has not expired; an expired one is dropped. */
  #live(key: string, now: number): Entry | undefined {
    const entry = this.#map.get(key)
    if (!entry) return undefined
    if (entry.expiresAt > now) return entry
    this.#map.delete(key)
    return undefined
  }

  #insert(key: string, entry: Entry, now: number): void {
    this.#map.delete(key) // a re-created key goes to the end of the creation order
    this.#maybeSweep(now)
    if (this.#map.size >= this.#maxKeys) this.#sweep(now)
    // Still full of live keys: evict the oldest ones (first in creation order).
    for (const oldest of this.#map.keys()) {
      if (this.#map.size < this.#maxKeys) break
      this.#map.delete(oldest)
    }
    this.#map.set(key, entry)
  }

  /**
   * Cheap sweeping on every insert: drops expired keys from the front (the oldest), stopping at
   * the first live one; a full pass runs once per `size` inserts, so its cost stays O(1) per
   * operation on average even when keys of different windows are interleaved.
   */
  #maybeSweep(now: number): void {
    for (const [k, e] of this.#map) {
      if (e.expiresAt > now) break
      this.#map.delete(k)
    }
    if (++this.#opsSinceSweep >= Math.max(1000, this.#map.size)) this.#sweep(now)
  }

  #sweep(now: number): void {
    this.#opsSinceSweep = 0
    for (const [k, e] of this.#map) if (e.expiresAt <= now) this.#map.delete(k)
  }
}

/** The engine the composition root opens when no counters URL is configured. */
export function memoryCounters(opts: MemoryCountersOptions = {}): Counters {
  return new MemoryCounters(opts) satisfies Counters
}
