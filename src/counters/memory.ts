import type { Counters, CounterState } from './counters.ts'
import { CountersUnavailableError } from './errors.ts'
import { ExpiryBuckets, type ExpiringEntry } from './expiry-buckets.ts'
import { OnceSet } from './once-set.ts'

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
 * - one-time markers (`setIfAbsent`: used SMS codes, pending uploads, cron ticks): never evicted
 *   while live, because forgetting one would accept a replay. At the cap with every marker live,
 *   `setIfAbsent` fails closed (`CountersUnavailableError`, a 503).
 * - spent keys (`spendOnce`: request nonces): the same rule, capped at `maxNonces`, and held as
 *   64-bit keyed fingerprints off the JS heap (`once-set.ts`, ~40-60 bytes a nonce). Signed
 *   requests keep a nonce for about `signatures.maxSkewSeconds` + 31 s (`nonceTtlMs` in
 *   security/signatures/verify-request.ts): a node taking N signed requests a second needs
 *   `maxNonces` above about 331 x N with the default window, or the Redis engine.
 */
export interface MemoryCountersOptions {
  /** The most counters, and the most one-time markers, held at once; default 100 000 each (tens of MB at most). */
  maxKeys?: number
  /** The most spent keys (nonces) held at once; default 1 000 000 (~3 000 signed requests a second; under 50 MB when full). */
  maxNonces?: number
  /** Milliseconds since the epoch; tests inject a clock they can move. */
  now?: () => number
}

export class MemoryCounters implements Counters {
  readonly name = 'memory' as const
  readonly #counts = new ExpiryBuckets()
  readonly #marks = new ExpiryBuckets()
  readonly #spent = new OnceSet()
  readonly #maxKeys: number
  readonly #maxNonces: number
  readonly #now: () => number

  constructor(opts: MemoryCountersOptions = {}) {
    this.#maxKeys = Math.max(1, opts.maxKeys ?? 100_000)
    this.#maxNonces = Math.max(1, opts.maxNonces ?? 1_000_000)
    this.#now = opts.now ?? Date.now
  }

  /** How many keys are held (expired ones not yet swept included). */
  get size(): number {
    return this.#counts.size + this.#marks.size + this.#spent.size
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

  async spendOnce(key: string, ttlMs: number): Promise<boolean> {
    const spent = this.#spent.spend(key, ttlMs, this.#now(), this.#maxNonces)
    if (spent === 'full') {
      throw new CountersUnavailableError(`counters: memory://?maxNonces=${this.#maxNonces} holds that many live nonces; raise maxNonces or use redis://`)
    }
    return spent
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
    this.#spent.clear()
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
