import type { Counters, CounterState } from './counters.ts'
import { CountersUnavailableError } from './errors.ts'
import { ExpiryBuckets, type ExpiringEntry } from './expiry-buckets.ts'

/**
 * The in-process counters engine: the embedded default for one node. With several API nodes each
 * would count alone (limits multiply by the node count), so clusters use the Redis engine.
 *
 * Memory is bounded without a timer (nothing keeps the process alive): expired keys are swept as
 * the engine is used, in amortised O(1) per operation (`expiry-buckets.ts`), and each kind of key
 * is capped at `maxKeys`:
 * - counters (`increment`, `raise`): at the cap the one closest to expiring is evicted, the least
 *   to lose. NB: an evicted client starts afresh, so `maxKeys` must be far above the number of
 *   clients counted within one window (each throttled login costs at most 2 keys).
 * - one-time markers (`setIfAbsent`: request nonces, used SMS codes, cron ticks): never evicted
 *   while live, because forgetting one would accept a replay. At the cap with every marker live,
 *   `setIfAbsent` fails closed (`CountersUnavailableError`, a 503). Signed requests keep one nonce
 *   for about `signatures.maxSkewSeconds` + 31 s (`nonceTtlMs` in security/signatures/
 *   verify-request.ts): a node taking N signed requests a second needs `maxKeys` above about
 *   331 x N with the default window (`memory://?maxKeys=`), or the Redis engine.
 */
export interface MemoryCountersOptions {
  /** The most keys of each kind held at once; default 100 000 (tens of MB at most). */
  maxKeys?: number
  /** Milliseconds since the epoch; tests inject a clock they can move. */
  now?: () => number
}

export class MemoryCounters implements Counters {
  readonly name = 'memory' as const
  readonly #counts = new ExpiryBuckets()
  readonly #marks = new ExpiryBuckets()
  readonly #maxKeys: number
  readonly #now: () => number

  constructor(opts: MemoryCountersOptions = {}) {
    this.#maxKeys = Math.max(1, opts.maxKeys ?? 100_000)
    this.#now = opts.now ?? Date.now
  }

  /** How many keys are held (expired ones not yet swept included). */
  get size(): number {
    return this.#counts.size + this.#marks.size
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
    const created = this.#count(key, by, ttlMs, now)
    return { count: by, ttlMs: created.expiresAt - now }
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const now = this.#now()
    if (this.#live(key, now)) return false // NB: a key is in one store at most, and now in neither
    this.#marks.sweep(now)
    if (this.#marks.size >= this.#maxKeys) {
      throw new CountersUnavailableError(`counters: memory://?maxKeys=${this.#maxKeys} holds that many live one-time keys (nonces); raise maxKeys or use redis://`)
    }
    const ttl = Math.max(1, Math.ceil(ttlMs))
    this.#marks.add(key, value, now + ttl, ttl)
    return true
  }

  async raise(key: string, value: number, ttlMs: number): Promise<number> {
    const now = this.#now()
    const entry = this.#live(key, now)
    const current = entry ? Number(entry.value) : NaN
    if (current >= value) return current
    this.#marks.delete(key)
    this.#count(key, value, ttlMs, now)
    return value
  }

  async get(key: string): Promise<CounterState | null> {
    const now = this.#now()
    const entry = this.#live(key, now)
    return entry ? { count: typeof entry.value === 'number' ? entry.value : Number(entry.value), ttlMs: entry.expiresAt - now } : null
  }

  async delete(key: string): Promise<void> {
    this.#counts.delete(key)
    this.#marks.delete(key)
  }

  async close(): Promise<void> {
    this.#counts.clear()
    this.#marks.clear()
  }

  /** The entry at `key` if it has not expired; an expired one is dropped. */
  #live(key: string, now: number): ExpiringEntry | undefined {
    let store = this.#counts
    let entry = store.get(key)
    if (!entry) entry = (store = this.#marks).get(key)
    if (!entry) return undefined
    if (entry.expiresAt > now) return entry
    store.delete(key)
    return undefined
  }

  /** Stores a counter, sweeping first and evicting the one closest to expiring at the cap. */
  #count(key: string, value: number, ttlMs: number, now: number): ExpiringEntry {
    this.#counts.delete(key)
    this.#counts.sweep(now)
    while (this.#counts.size >= this.#maxKeys) this.#counts.evictOne()
    const ttl = Math.max(1, Math.ceil(ttlMs))
    return this.#counts.set(key, value, now + ttl, ttl)
  }
}

/** The engine the composition root opens when no counters URL is configured. */
export function memoryCounters(opts: MemoryCountersOptions = {}): Counters {
  return new MemoryCounters(opts) satisfies Counters
}
