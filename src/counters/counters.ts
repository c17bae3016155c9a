/**
 * The counters port: short-lived shared numbers and markers (rate limits, nonces, OTP attempts).
 * Every API node must see the same values, so features never keep these in their own memory; the
 * embedded engine is in-process (`memory.ts`), the scaled one Redis.
 *
 * The operations are the ones Redis does atomically in one round trip, so a Redis engine is a
 * direct mapping:
 * - `increment(key, ttlMs, by)`: `INCRBY key by` + `PEXPIRE key ttlMs NX` + `PTTL key` (one
 *   MULTI or script). The expiry is set when the key is created and never moved by later
 *   increments: a fixed window, so a client that keeps trying cannot keep its own lock alive
 *   forever, and one that waits is let back in on time.
 * - `setIfAbsent(key, value, ttlMs)`: `SET key value NX PX ttlMs`.
 * - `spendOnce(key, ttlMs)`: `SET key 1 NX PX ttlMs`.
 * - `raise(key, value, ttlMs)`: `GET`, then `SET key value PX ttlMs` when bigger (one script).
 * - `get(key)`: `GET key` + `PTTL key`.
 * - `delete(key)`: `DEL key`.
 *
 * Keys and values are plain strings; callers prefix keys by feature (`auth:fail:...`,
 * `nonce:...`) so features never collide.
 */

/** A counter's value after an operation, and how long until it expires. */
export interface CounterState {
  /** The count (for `increment`), or the stored number; a key set with `setIfAbsent` reads as its value parsed, or NaN. */
  count: number
  /** Milliseconds until the key expires (at least 1 while it exists). */
  ttlMs: number
}

export interface Counters {
  /** For logs only: never branch on it. */
  readonly name: 'memory' | 'redis'
  /**
   * Adds `by` (default 1, may be negative) to the counter at `key` and returns the new count.
   * A missing or expired key starts from 0 and expires `ttlMs` from now; an existing key keeps
   * its expiry. Atomic: concurrent callers on any node each see a distinct count.
   */
  increment(key: string, ttlMs: number, by?: number): Promise<CounterState>
  /**
   * Stores `value` at `key` for `ttlMs` unless the key exists; true when it was stored (the
   * caller won), false when it was already there. Atomic across nodes (a nonce is used once).
   */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>
  /**
   * Marks `key` spent for `ttlMs`: true the first time, false while the mark lives. Atomic across
   * nodes, like `setIfAbsent`, but a spent key can never be read, deleted or overwritten: a key
   * used here is used with no other operation. That lets an engine keep a fingerprint instead of
   * the key (the memory engine does: request nonces, by the million).
   */
  spendOnce(key: string, ttlMs: number): Promise<boolean>
  /**
   * Stores `value` at `key` unless the key holds a bigger number, and (when stored) makes it
   * expire `ttlMs` from now; returns the number held afterwards. Atomic across nodes: of two
   * concurrent calls the bigger value stays, whatever their order (a replication position a client's
   * last write reached, so its reads wait for the furthest of its writes).
   */
  raise(key: string, value: number, ttlMs: number): Promise<number>
  /** The current state of a key without changing it; null when missing or expired. */
  get(key: string): Promise<CounterState | null>
  /** Removes a key (a reset); no error when it is missing. */
  delete(key: string): Promise<void>
  close(): Promise<void>
}
