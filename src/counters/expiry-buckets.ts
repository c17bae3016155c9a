/**
 * Keys with expiry times, swept in amortised O(1): keys are grouped by their time to live rounded
 * up to a power of two, and each group keeps insertion order (a Map), so within a group the front
 * key is (nearly) the first to expire. A sweep drops expired keys from the front of each group and
 * stops at the first live one: its cost is the keys it drops plus one look per group (about 40
 * groups between 1 ms and a year), never a pass over every key.
 * Inside a group times to live differ by at most 2x, so an expired key may wait behind a live one
 * for at most its own time to live again before it is dropped; `maxKeys` bounds memory meanwhile.
 */

export interface ExpiringEntry {
  /** The number for counters, else the string set by `setIfAbsent`. */
  value: number | string
  expiresAt: number
}

interface Held extends ExpiringEntry {
  group: number
}

/** The group of a time to live: the next power of two (ms). */
export function groupOf(ttlMs: number): number {
  // clz32 instead of log2 for the usual times to live (up to 24 days): this runs on every insert.
  if (ttlMs <= 1) return 1
  if (ttlMs <= 2 ** 31) return 2 ** (32 - Math.clz32(Math.ceil(ttlMs) - 1))
  return 2 ** Math.ceil(Math.log2(ttlMs))
}

export class ExpiryBuckets {
  readonly #entries = new Map<string, Held>()
  readonly #groups = new Map<number, Map<string, Held>>()
  /** No group's front key expires before this (a lower bound): a sweep before it has nothing to do. */
  #earliest = Infinity

  get size(): number {
    return this.#entries.size
  }

  get(key: string): ExpiringEntry | undefined {
    return this.#entries.get(key)
  }

  delete(key: string): void {
    const held = this.#entries.get(key)
    if (!held) return
    this.#entries.delete(key)
    const group = this.#groups.get(held.group)
    group?.delete(key)
    if (group?.size === 0) this.#groups.delete(held.group)
  }

  /** Stores `key` (replacing any previous entry: it moves to the back of its group). */
  set(key: string, value: number | string, expiresAt: number, ttlMs: number): ExpiringEntry {
    this.delete(key)
    return this.add(key, value, expiresAt, ttlMs)
  }

  /** Stores a key that is not held (the caller has just looked): `set` without looking again. */
  add(key: string, value: number | string, expiresAt: number, ttlMs: number): ExpiringEntry {
    const held: Held = { value, expiresAt, group: groupOf(ttlMs) }
    this.#entries.set(key, held)
    let group = this.#groups.get(held.group)
    if (!group) this.#groups.set(held.group, (group = new Map()))
    group.set(key, held)
    if (expiresAt < this.#earliest) this.#earliest = expiresAt
    return held
  }

  /** Drops expired keys from the front of every group. */
  sweep(now: number): void {
    if (now < this.#earliest) return // the common case on every insert: nothing is due yet
    let earliest = Infinity
    for (const [g, group] of this.#groups) {
      for (const [k, e] of group) {
        if (e.expiresAt > now) {
          if (e.expiresAt < earliest) earliest = e.expiresAt
          break
        }
        group.delete(k)
        this.#entries.delete(k)
      }
      if (group.size === 0) this.#groups.delete(g)
    }
    this.#earliest = earliest
  }

  /** Removes the front key that expires first (the least to lose), if any. */
  evictOne(): void {
    let victim: [string, Held] | undefined
    for (const group of this.#groups.values()) {
      const front = group.entries().next().value
      if (front && (!victim || front[1].expiresAt < victim[1].expiresAt)) victim = front
    }
    if (victim) this.delete(victim[0])
  }

  clear(): void {
    this.#entries.clear()
    this.#groups.clear()
    this.#earliest = Infinity
  }
}
