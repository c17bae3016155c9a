import { createHash } from 'node:crypto'
import type { CompiledQuery } from 'kysely'
import type { Bus, Unsubscribe } from '../bus/bus.ts'
import type { Cache } from '../cache/cache.ts'
import type { Counters } from '../counters/counters.ts'
import type { Logger } from '../log.ts'
import type { SqlRouter } from '../sql/router.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { ReadPlans } from './read-cache-plan.ts'
import type { CollectionRegistry } from './registry.ts'
import type { RecordChange } from './unit-of-work.ts'

/**
 * Record reads served from the cache port (`cacheRecords`): a view by id, a list page and its
 * count, an expand's reads. What is cached is the rows one SQL statement returned, keyed by
 *
 *     schema version + the generation of every collection the statement names + its SQL text + its parameters
 *
 * and never a response. Why this is safe with API rules:
 * - a caller's rule is compiled INTO the statement (`WHERE ... AND owner = $2`), and whatever the
 *   rule reads of the request (`@request.auth.id`, a header, a datetime macro) is a bound
 *   parameter: two callers share an entry only when SQL would be asked exactly the same question,
 *   so an entry can never hand a record to a caller whose rule excludes it. The cost is one entry
 *   per caller for rules that depend on the caller, which is what a per-caller answer needs anyway.
 * - hidden fields, `fields`, expand's own rules and file URLs are applied to the cached rows on
 *   every request, exactly as to rows from SQL.
 *
 * Invalidation without a stale read on another node: each collection has a generation number in
 * the counters port (Redis when nodes share it). After a unit of work commits, and before its
 * response leaves, the generation of every collection it wrote is incremented (`onCommit`); a read
 * fetches the current generations first, so a read that starts after the write was acknowledged,
 * on any node, builds a key no entry has yet. A read that raced the write may store pre-write rows
 * under the old generation: nobody reads that key again. Views depend on the collections their
 * query names, so a write to a source moves the view's key too; a schema change (rules, fields,
 * an import) moves the schema version, which is in every key. The bus then tells every node to
 * drop the entries it stored for the written collections (memory is freed early; correctness does
 * not depend on it: the bus is at most once).
 *
 * Misses are read from the primary when replicas are configured (a replica behind the write would
 * store old rows under the new generation); with the primary down nothing is stored.
 *
 * What it does not see: a change made around Plinth (SQL typed by hand, a system table written
 * directly). Entries live `cacheRecordsTtl` ms at most, which bounds that.
 */
export interface ReadCacheOptions {
  cache: Cache
  counters: Counters
  bus: Bus
  sql: SqlRouter
  registry: CollectionRegistry
  /** The schema version loaded on this node (CollectionStore.version). */
  version: () => string
  ttlMs: number
  enabled: boolean
  log: Pick<Logger, 'warn' | 'debug'>
}

/** The bus topic of invalidations; the message is JSON `{ids: [collection ids]}` (`{all: true}`: everything). */
export const READ_CACHE_TOPIC = 'records:cache'
/** How long a generation counter lives without being re-created; far above any entry's TTL. */
const GENERATION_TTL = 7 * 86_400_000
/** Entries this node remembers storing, for the bus's drops; past it, it forgets (they still expire). */
const TRACKED = 50_000

type Rows = Record<string, unknown>[]

export class RecordReadCache {
  /** Whether reads use the cache now (SIGHUP may change it); invalidation runs either way. */
  enabled: boolean
  /** How long an entry lives (`cacheRecordsTtl`; SIGHUP may change it). */
  ttlMs: number
  readonly stats = { hits: 0, misses: 0, bypassed: 0 }
  readonly #o: ReadCacheOptions
  readonly #plans: ReadPlans
  readonly #tracked = new Map<string, Set<string>>()
  #trackedCount = 0

  constructor(opts: ReadCacheOptions) {
    this.#o = opts
    this.enabled = opts.enabled
    this.ttlMs = opts.ttlMs
    this.#plans = new ReadPlans(opts.registry)
  }

  /** The rows of `compiled`, from the cache or from SQL (`reader`: where the router sends this read). */
  async read(compiled: CompiledQuery, reader: SqlEngine): Promise<Rows> {
    const plan = this.enabled ? this.#plans.plan(compiled.sql) : undefined
    if (!plan) return this.#bypass(compiled, reader)
    let key: string
    try {
      const gens = await Promise.all(plan.ids.map((id) => this.#generation(id)))
      key = `records:${createHash('sha256').update(`${this.#o.version()}\n${gens.join(',')}\n${compiled.sql}\n${JSON.stringify(compiled.parameters)}`).digest('base64url')}`
    } catch {
      // Counters unreachable (or a parameter JSON cannot hold): no generation, no cache.
      return this.#bypass(compiled, reader)
    }
    const hit = await this.#o.cache.get(key).catch(() => undefined)
    if (hit) {
      this.stats.hits++
      return JSON.parse(hit.toString()) as Rows
    }
    this.stats.misses++
    const source = this.#fillSource(reader)
    if (!source) return reader.query(compiled)
    const rows = await source.query(compiled)
    const text = plainJson(rows, plan.secret)
    if (text !== undefined) {
      await this.#o.cache.set(key, text, this.ttlMs).catch((err: unknown) => this.#o.log.debug({ err }, 'records cache: store failed'))
      this.#track(plan.ids, key)
    }
    return rows
  }

  /**
   * Moves the generation of each collection in `ids` (after a commit) and tells every node to
   * drop its entries for them. A failure is logged, not thrown: the write has committed; entries
   * for these collections may then be served until their TTL (`cacheRecordsTtl`).
   */
  async invalidate(ids: Iterable<string>): Promise<void> {
    const list = [...new Set(ids)]
    if (!list.length) return
    try {
      await Promise.all(list.map((id) => this.#bump(id)))
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message, collections: list }, 'records cache: generation not moved; cached reads of these collections may be stale until cacheRecordsTtl')
    }
    this.#drop(list)
    // Not awaited: the drops only free memory early (correctness is the generations'), so the
    // write's answer does not wait for a publish round trip.
    if (this.#o.bus.reachesOtherNodes) void this.#o.bus.publish(READ_CACHE_TOPIC, JSON.stringify({ ids: list })).catch(() => undefined)
  }

  /** Starts following commits (`onCommit`), schema changes and other nodes' drops; returns the stop function. */
  async attach(records: { onCommit(l: (changes: readonly RecordChange[]) => Promise<void>): () => void }, store: { addChangeListener(l: () => Promise<void>): () => void }): Promise<() => Promise<void>> {
    const offCommit = records.onCommit((changes) => this.invalidate(changes.map((c) => c.collection.id)))
    // A schema change moves the schema version in every key; a truncate (also a store change)
    // does not, so every collection's generation moves too, before the change is answered.
    const offSchema = store.addChangeListener(() => this.invalidate(this.#o.registry.all().map((c) => c.id)))
    const unsubscribe: Unsubscribe = await this.#o.bus.subscribe(READ_CACHE_TOPIC, (message) => {
      const m = JSON.parse(message) as { ids?: string[]; all?: boolean }
      this.#drop(m.all ? undefined : (m.ids ?? []))
    })
    return async () => {
      offCommit()
      offSchema()
      await unsubscribe()
    }
  }

  #bypass(compiled: CompiledQuery, reader: SqlEngine): Promise<Rows> {
    this.stats.bypassed++
    return reader.query(compiled)
  }

  /** Where a miss is read so that its rows may be stored: the primary (see the class comment). */
  #fillSource(reader: SqlEngine): SqlEngine | undefined {
    if (!this.#o.sql.replicated) return reader
    try {
      return this.#o.sql.writer()
    } catch {
      return undefined
    }
  }

  /**
   * The generation of collection `id`. A missing counter (never written, expired after
   * GENERATION_TTL, evicted, or Redis emptied) starts at the time in µs: above any value it held
   * before unless it was bumped more than a thousand times a millisecond on average.
   */
  async #generation(id: string): Promise<number> {
    const key = `records:gen:${id}`
    const state = await this.#o.counters.get(key)
    if (state && Number.isFinite(state.count)) return state.count
    return this.#o.counters.raise(key, Date.now() * 1000, GENERATION_TTL)
  }

  async #bump(id: string): Promise<void> {
    const key = `records:gen:${id}`
    const { count } = await this.#o.counters.increment(key, GENERATION_TTL)
    // Created by this increment (it was missing): lift it to the time base, as a read would.
    if (count < 1e12) await this.#o.counters.raise(key, Date.now() * 1000, GENERATION_TTL)
  }

  #track(ids: string[], key: string): void {
    if (this.#trackedCount >= TRACKED) {
      this.#tracked.clear()
      this.#trackedCount = 0
    }
    for (const id of ids) {
      let keys = this.#tracked.get(id)
      if (!keys) this.#tracked.set(id, (keys = new Set()))
      if (!keys.has(key)) {
        keys.add(key)
        this.#trackedCount++
      }
    }
  }

  /** Deletes the entries this node stored for `ids` (undefined: all of them). */
  #drop(ids: string[] | undefined): void {
    const lists = ids === undefined ? [...this.#tracked.keys()] : ids
    for (const id of lists) {
      const keys = this.#tracked.get(id)
      if (!keys) continue
      this.#tracked.delete(id)
      this.#trackedCount -= keys.size
      for (const key of keys) void this.#o.cache.delete(key).catch(() => undefined)
    }
  }
}

/**
 * The rows as JSON without the `secret` columns, when every value survives a JSON round trip
 * unchanged; undefined otherwise (not cached).
 */
function plainJson(rows: Rows, secret: Set<string>): string | undefined {
  for (const row of rows) {
    for (const v of Object.values(row)) {
      const t = typeof v
      if (v === null || t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v))) continue
      return undefined
    }
  }
  return JSON.stringify(rows, (key, value: unknown) => (key !== '' && secret.has(key) ? undefined : value))
}
