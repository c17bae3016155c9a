import type { Bus } from '../bus/bus.ts'
import type { Logger } from '../log.ts'
import { isAuthCollection } from '../records/model.ts'
import type { AuthInfo } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'

/**
 * Verified tokens and the auth records they stand for, so a signed-in request costs no token
 * decoding, no HMAC and no SQL once its token has been seen. Keyed by the whole token string:
 * only a token that verified against its record's current tokenKey is ever stored.
 *
 * What ends an entry, so a revoked token or a changed record is never served from here:
 * - `drop(collectionId, id)`: the record was updated or deleted. The composition root calls it
 *   after every commit that touches an auth record, and on every other node through the bus.
 * - A schema reload: the entry keeps the collection object it was verified against, and the
 *   registry hands out new objects after any change (rules, token secrets, fields), so the
 *   first lookup after it misses.
 * - The token's own `exp`, and `ttl`: a bound for writes no commit listener hears of (SQL typed
 *   by hand, a CLI command on a one-node setup without a shared bus, a bus message lost while
 *   Redis was away).
 * - Size: the oldest entry goes when `maxEntries` is reached.
 *
 * NB: a lookup that read the database before a `drop` must not store what it read after it (the
 * row may predate the change): `epoch()` is taken before the read and `put` refuses when any
 * drop happened since.
 */
export interface AuthCacheOptions {
  /** How long an entry may be served, in ms. */
  ttl: number
  maxEntries: number
  now?: () => number
}

interface Entry {
  info: AuthInfo
  /** Milliseconds: the earlier of the token's `exp` and the entry's ttl. */
  until: number
  key: string
}

const recordKey = (collectionId: string, id: string) => `${collectionId}/${id}`

export class AuthCache {
  readonly #entries = new Map<string, Entry>()
  /** Tokens cached per record, for `drop`. */
  readonly #byRecord = new Map<string, Set<string>>()
  #epoch = 0
  readonly #now: () => number

  constructor(
    private readonly registry: CollectionRegistry,
    private readonly opts: AuthCacheOptions,
  ) {
    this.#now = opts.now ?? Date.now
  }

  get size(): number {
    return this.#entries.size
  }

  /** The auth a token was verified for, while still valid; undefined on a miss. */
  get(token: string): AuthInfo | undefined {
    const entry = this.#entries.get(token)
    if (!entry) return undefined
    if (this.#now() < entry.until && this.registry.get(entry.info.collection.id) === entry.info.collection) return entry.info
    this.#remove(token, entry)
    return undefined
  }

  /** Changes with every `drop` and `clear`; take it before reading what `put` will store. */
  epoch(): number {
    return this.#epoch
  }

  /** Stores a verified token (`exp` in seconds, from its claims) unless a drop happened since `epoch`. */
  put(token: string, info: AuthInfo, exp: number, epoch: number): void {
    if (epoch !== this.#epoch || this.opts.maxEntries <= 0) return
    const old = this.#entries.get(token)
    if (old) this.#remove(token, old)
    if (this.#entries.size >= this.opts.maxEntries) {
      const [oldest, entry] = this.#entries.entries().next().value!
      this.#remove(oldest, entry)
    }
    const key = recordKey(info.collection.id, info.record.id)
    this.#entries.set(token, { info, until: Math.min(exp * 1000, this.#now() + this.opts.ttl), key })
    let tokens = this.#byRecord.get(key)
    if (!tokens) this.#byRecord.set(key, (tokens = new Set()))
    tokens.add(token)
  }

  /** Forgets every token of one record (it changed or is gone). */
  drop(collectionId: string, id: string): void {
    this.#epoch++
    const key = recordKey(collectionId, id)
    for (const token of this.#byRecord.get(key) ?? []) this.#entries.delete(token)
    this.#byRecord.delete(key)
  }

  clear(): void {
    this.#epoch++
    this.#entries.clear()
    this.#byRecord.clear()
  }

  #remove(token: string, entry: Entry): void {
    this.#entries.delete(token)
    const tokens = this.#byRecord.get(entry.key)
    tokens?.delete(token)
    if (tokens?.size === 0) this.#byRecord.delete(entry.key)
  }
}

/** The bus topic on which nodes tell each other that an auth record changed: `collectionId/id`. */
export const AUTH_CHANGED_TOPIC = 'auth.changed'

/**
 * Keeps `cache` true to the data: every committed update or delete of an auth record drops its
 * tokens here and, through the bus, on every other node. Returns what stops following.
 * NB: a lost bus message (Redis away) leaves other nodes' entries until their ttl.
 */
export async function followAuthChanges(cache: AuthCache, records: Pick<RecordsService, 'onCommit'>, bus: Bus, log: Logger): Promise<() => Promise<void>> {
  const unsubscribe = await bus.subscribe(AUTH_CHANGED_TOPIC, (message) => {
    const slash = message.indexOf('/')
    if (slash > 0) cache.drop(message.slice(0, slash), message.slice(slash + 1))
  })
  const stopListening = records.onCommit((changes) => {
    for (const ch of changes) {
      if (ch.action === 'create' || !isAuthCollection(ch.collection)) continue
      cache.drop(ch.collection.id, ch.record.id)
      bus.publish(AUTH_CHANGED_TOPIC, recordKey(ch.collection.id, ch.record.id)).catch((err: unknown) =>
        log.warn({ err }, 'auth: could not tell other nodes that an auth record changed; their cached tokens for it expire by themselves'),
      )
    }
  })
  return async () => {
    stopListening()
    await unsubscribe()
  }
}
