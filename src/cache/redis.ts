import type { Cache } from './cache.ts'
import { isRedisUnavailable, openRedis, type RedisConnection, type RedisLog } from '../redis/client.ts'

/**
 * The Redis cache: `SET key value PX ttl`, `GET`, `DEL`, under `plinth:cache:`, shared by every
 * API node (an invalidation on one node is seen by all).
 *
 * When Redis is unreachable the cache behaves as no cache: `get` answers undefined, `set` and
 * `delete` do nothing, and nothing is thrown into the request. It logs
 * `cache: Redis unavailable, running without cache` once per outage (the next successful command
 * ends the outage). NB: a `delete` lost in an outage leaves the old value in Redis until its TTL
 * ends, so TTLs bound how stale a value can be.
 *
 * Redis itself bounds memory: give the server a `maxmemory` with an LRU policy
 * (`allkeys-lru`) when it holds only cache, or `volatile-lru` when it also holds counters.
 */
export interface RedisCacheOptions {
  /** A `redis://` URL to open a connection of its own, closed by `close()`. */
  url?: string
  /** Or a connection shared with other engines; `close()` leaves it open. */
  connection?: RedisConnection
  log: RedisLog
  /** Every key starts with this; default the URL's namespace + `cache:` (`plinth:cache:`). */
  prefix?: string
  /** The connection's name in logs and `CLIENT LIST` (with `url`); default `cache`. */
  name?: string
}

export class RedisCache implements Cache {
  readonly name = 'redis' as const
  readonly #conn: RedisConnection
  readonly #owned: boolean
  readonly #prefix: string
  readonly #log: RedisLog
  #warned = false

  constructor(connection: RedisConnection, opts: { owned: boolean; log: RedisLog; prefix?: string }) {
    this.#conn = connection
    this.#owned = opts.owned
    this.#log = opts.log
    this.#prefix = opts.prefix ?? `${connection.prefix}cache:`
  }

  async get(key: string): Promise<Buffer | undefined> {
    const value = await this.#run(() => this.#conn.client.getBuffer(this.#prefix + key))
    return value ?? undefined
  }

  async set(key: string, value: string | Buffer, ttlMs: number): Promise<void> {
    await this.#run(() => this.#conn.client.set(this.#prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs))))
  }

  async delete(key: string): Promise<void> {
    await this.#run(() => this.#conn.client.del(this.#prefix + key))
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#conn.close()
  }

  /** Runs a command; an outage gives undefined (logged once), any other error is a bug and is thrown. */
  async #run<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (!this.#conn.ready) return this.#unavailable('not connected')
    try {
      const result = await command()
      if (this.#warned) {
        this.#warned = false
        this.#log.info({ redis: this.#conn.url }, 'cache: Redis back, cache in use again')
      }
      return result
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err
      return this.#unavailable((err as Error).message)
    }
  }

  #unavailable(why: string): undefined {
    if (!this.#warned) {
      this.#warned = true
      this.#log.warn({ redis: this.#conn.url, err: why }, 'cache: Redis unavailable, running without cache')
    }
    return undefined
  }
}

/** Opens the Redis cache (the composition root imports this module lazily). */
export async function redisCache(opts: RedisCacheOptions): Promise<Cache> {
  let connection = opts.connection
  const owned = !connection
  if (!connection) {
    if (!opts.url) throw new Error('redisCache: give a connection or a url')
    connection = await openRedis(opts.url, { log: opts.log, name: opts.name ?? 'cache' })
  }
  return new RedisCache(connection, { owned, log: opts.log, prefix: opts.prefix }) satisfies Cache
}
