import { randomBytes } from 'node:crypto'
import { groupOf } from './expiry-buckets.ts'
import { halfSipHash64 } from './halfsiphash.ts'

/**
 * One-time keys (request nonces) held as keyed 64-bit fingerprints in typed arrays: the memory
 * engine's `spendOnce`. A nonce costs ~40-60 bytes here instead of ~300 as a string in a Map, and
 * none of it is on the JS heap, so a few million live nonces add nothing to garbage collection.
 *
 * - The fingerprint is HalfSipHash-2-4 under a key drawn at start: nobody can choose keys that
 *   collide, so neither the table's probe chains nor false replays can be forced. Two different
 *   keys share a fingerprint by chance with probability n / 2^64 per spend (n keys held); that
 *   answers "already spent" (a 401 replayed for a nonce), never accepts a replay.
 * - The table is open addressing with linear probing, at most half full (live, expired and
 *   deleted slots together); it grows and shrinks by rebuilding, in amortised O(1).
 * - Expiry is exact (each slot keeps its time) and swept as in `expiry-buckets.ts`: fingerprints
 *   queue by time to live rounded up to a power of two, and a sweep drops expired ones from the
 *   front of each queue, so its cost is what it drops plus a look per queue.
 */

/** Slot times: an empty slot (ends a probe chain) and a deleted one (does not). */
const EMPTY = 0
const DELETED = -1
const MIN_SLOTS = 1024

/** Fingerprints in the order they were spent, for one power-of-two time to live: a ring. */
class Queue {
  fps = new Uint32Array(128)
  head = 0
  length = 0

  push(lo: number, hi: number): void {
    const slots = this.fps.length >> 1
    if (this.length === slots) this.#resize(slots * 2)
    const at = ((this.head + this.length) % (this.fps.length >> 1)) << 1
    this.fps[at] = lo
    this.fps[at + 1] = hi
    this.length++
  }

  shift(): void {
    this.head = (this.head + 1) % (this.fps.length >> 1)
    this.length--
    const slots = this.fps.length >> 1
    if (slots > 64 && this.length * 4 < slots) this.#resize(slots >> 1)
  }

  #resize(slots: number): void {
    const next = new Uint32Array(slots * 2)
    const old = this.fps.length >> 1
    for (let i = 0; i < this.length; i++) {
      const from = ((this.head + i) % old) << 1
      next[i << 1] = this.fps[from]!
      next[(i << 1) + 1] = this.fps[from + 1]!
    }
    this.fps = next
    this.head = 0
  }
}

export class OnceSet {
  readonly #k0: number
  readonly #k1: number
  /** Two words a slot: the fingerprint's low and high halves. */
  #fps = new Uint32Array(MIN_SLOTS * 2)
  /** A slot's expiry (ms since the epoch), or EMPTY, or DELETED. */
  #expires = new Float64Array(MIN_SLOTS)
  #held = 0
  #deleted = 0
  readonly #queues = new Map<number, Queue>()
  /** No queue's front expires before this (a lower bound): a sweep before it has nothing to do. */
  #earliest = Infinity
  #bytes = Buffer.allocUnsafe(256)
  readonly #fp = new Uint32Array(2)

  constructor() {
    const key = randomBytes(8)
    this.#k0 = key.readInt32LE(0)
    this.#k1 = key.readInt32LE(4)
  }

  /** Keys held, expired ones not yet swept included. */
  get size(): number {
    return this.#held
  }

  /**
   * Spends `key` until `now + ttlMs`: true the first time, false while it is spent, 'full' when
   * `maxKeys` keys are live and this one is not among them (nothing is evicted: that would let a
   * replay through).
   */
  spend(key: string, ttlMs: number, now: number, maxKeys: number): boolean | 'full' {
    this.sweep(now)
    this.#fingerprint(key)
    const lo = this.#fp[0]!
    const hi = this.#fp[1]!
    let slot = this.#find(lo, hi)
    const expiresAt = now + Math.max(1, Math.ceil(ttlMs))
    if (slot >= 0) {
      if (this.#expires[slot]! > now) return false
      this.#expires[slot] = expiresAt // spent before and expired, not yet swept: spend it again in place
    } else {
      if (this.#held >= maxKeys) return 'full'
      const slots = this.#expires.length
      if ((this.#held + this.#deleted + 1) * 2 > slots || (slots > MIN_SLOTS && (this.#held + 1) * 16 < slots)) {
        this.#rebuild(Math.max(MIN_SLOTS, 2 ** Math.ceil(Math.log2((this.#held + 1) * 3))))
        slot = this.#find(lo, hi)
      }
      slot = ~slot
      if (this.#expires[slot] === DELETED) this.#deleted--
      this.#fps[slot << 1] = lo
      this.#fps[(slot << 1) + 1] = hi
      this.#expires[slot] = expiresAt
      this.#held++
    }
    this.#queueOf(ttlMs).push(lo, hi)
    if (expiresAt < this.#earliest) this.#earliest = expiresAt
    return true
  }

  /** Drops expired keys from the front of every queue. */
  sweep(now: number): void {
    if (now < this.#earliest) return // the common case: nothing is due yet
    let earliest = Infinity
    for (const [group, queue] of this.#queues) {
      while (queue.length > 0) {
        const at = queue.head << 1
        const slot = this.#find(queue.fps[at]!, queue.fps[at + 1]!)
        if (slot >= 0) {
          const expiresAt = this.#expires[slot]!
          // NB: a key spent again after it expired has a later time than this entry was queued
          // with; it holds its queue until then, which delays (never skips) the sweep behind it.
          if (expiresAt > now) {
            earliest = Math.min(earliest, expiresAt)
            break
          }
          this.#expires[slot] = DELETED
          this.#held--
          this.#deleted++
        }
        queue.shift()
      }
      if (queue.length === 0) this.#queues.delete(group)
    }
    this.#earliest = earliest
  }

  clear(): void {
    this.#fps = new Uint32Array(MIN_SLOTS * 2)
    this.#expires = new Float64Array(MIN_SLOTS)
    this.#held = this.#deleted = 0
    this.#queues.clear()
    this.#earliest = Infinity
  }

  /** The key's fingerprint into `#fp`: its UTF-8 bytes, hashed. */
  #fingerprint(key: string): void {
    if (key.length * 3 > this.#bytes.length) this.#bytes = Buffer.allocUnsafe(key.length * 3)
    const length = this.#bytes.write(key, 0, 'utf8')
    halfSipHash64(this.#k0, this.#k1, this.#bytes, length, this.#fp)
  }

  /** The slot holding the fingerprint, or ~(the slot to put it in) when none does. */
  #find(lo: number, hi: number): number {
    const mask = this.#expires.length - 1
    let free = -1
    for (let slot = lo & mask; ; slot = (slot + 1) & mask) {
      const expiresAt = this.#expires[slot]!
      if (expiresAt === EMPTY) return ~(free >= 0 ? free : slot)
      if (expiresAt === DELETED) {
        if (free < 0) free = slot
      } else if (this.#fps[slot << 1] === lo && this.#fps[(slot << 1) + 1] === hi) {
        return slot
      }
    }
  }

  /** Moves every held key into a table of `slots` slots (a power of two), dropping deleted ones. */
  #rebuild(slots: number): void {
    const fps = this.#fps
    const expires = this.#expires
    this.#fps = new Uint32Array(slots * 2)
    this.#expires = new Float64Array(slots)
    this.#deleted = 0
    for (let old = 0; old < expires.length; old++) {
      if (expires[old]! <= 0) continue
      const slot = ~this.#find(fps[old << 1]!, fps[(old << 1) + 1]!)
      this.#fps[slot << 1] = fps[old << 1]!
      this.#fps[(slot << 1) + 1] = fps[(old << 1) + 1]!
      this.#expires[slot] = expires[old]!
    }
  }

  #queueOf(ttlMs: number): Queue {
    const group = groupOf(ttlMs)
    let queue = this.#queues.get(group)
    if (!queue) this.#queues.set(group, (queue = new Queue()))
    return queue
  }
}
