import type { Counters, CounterState } from './counters.ts'
import { CountersUnavailableError } from './errors.ts'
import { isRedisUnavailable, openRedis, type RedisConnection, type RedisLog } from '../redis/client.ts'

/**
 * The Redis counters engine: every API node sees the same counts. Each operation is one round
 * trip and atomic on the server (see the mapping in `counters.ts`).
 *
 * When Redis cannot be reached (down, restarting, partitioned) every operation throws
 * `CountersUnavailableError` at once, never a guess: counters guard security, so they fail
 * closed (a 503), and recover by themselves when the connection comes back.
 */
export interface RedisCountersOptions {
  /** A `redis://` URL to open a connection of its own, closed by `close()`. */
  url?: string
  /** Or a connection shared with other engines; `close()` leaves it open. */
  connection?: RedisConnection
  /** Needed with `url`. */
  log?: RedisLog
  /** Every key starts with this; default the URL's namespace + `c:` (`plinth:c:`). */
  prefix?: string
  /** The connection's name in logs and `CLIENT LIST` (with `url`); default `counters`. */
  name?: string
}

/**
 * `INCRBY` + `PEXPIRE ... NX` + `PTTL` as one script, so it is atomic and works on Redis before
 * 7.0 too (PEXPIRE's NX flag is 7.0+). A key that has no expiry (only possible if something else
 * wrote it) gets one, as NX would do. A new key reports the requested ttl exactly.
 * NB: KEYS[1] is the only key touched, so the script is safe on Redis Cluster.
 */
const INCREMENT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local t = redis.call('PTTL', KEYS[1])
if t < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  t = tonumber(ARGV[2])
end
return {n, t}
`

/** `raise`: keeps the bigger number (a value that is not a number counts as smaller). NB: one key only. */
const RAISE = `
local s = redis.call('GET', KEYS[1])
local c = s and tonumber(s)
if c and c >= tonumber(ARGV[1]) then return s end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`

export class RedisCounters implements Counters {
  readonly name = 'redis' as const
  readonly #conn: RedisConnection
  readonly #owned: boolean
  readonly #prefix: string

  constructor(connection: RedisConnection, opts: { owned: boolean; prefix?: string }) {
    this.#conn = connection
    this.#owned = opts.owned
    this.#prefix = opts.prefix ?? `${connection.prefix}c:`
  }

  async increment(key: string, ttlMs: number, by = 1): Promise<CounterState> {
    const reply = await this.#run(() =>
      this.#conn.client.eval(INCREMENT, 1, this.#prefix + key, String(Math.trunc(by)), String(ttl(ttlMs))),
    )
    const [count, left] = reply as [number, number]
    return { count: Number(count), ttlMs: Math.max(1, Number(left)) }
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#run(() => this.#conn.client.set(this.#prefix + key, value, 'PX', ttl(ttlMs), 'NX'))
    return reply === 'OK'
  }

  spendOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.setIfAbsent(key, '1', ttlMs)
  }

  async raise(key: string, value: number, ttlMs: number): Promise<number> {
    // As text both ways: Lua numbers are doubles and Redis truncates a returned number to an integer.
    const reply = await this.#run(() => this.#conn.client.eval(RAISE, 1, this.#prefix + key, String(value), String(ttl(ttlMs))))
    return Number(reply)
  }

  async get(key: string): Promise<CounterState | null> {
    const k = this.#prefix + key
    // MULTI so the value and its expiry are read at the same instant.
    const replies = await this.#run(() => this.#conn.client.multi().get(k).pttl(k).exec())
    if (!replies) throw new CountersUnavailableError('counters: the read was aborted')
    const [[getErr, value], [ttlErr, left]] = replies as [[Error | null, string | null], [Error | null, number]]
    if (getErr || ttlErr) throw unavailableOr(getErr ?? ttlErr)
    if (value === null || left === -2) return null
    // -1 (no expiry) cannot come from this engine; report it as "a long time" rather than 0.
    return { count: Number(value), ttlMs: left === -1 ? Number.MAX_SAFE_INTEGER : Math.max(1, left) }
  }

  async delete(key: string): Promise<void> {
    await this.#run(() => this.#conn.client.del(this.#prefix + key))
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#conn.close()
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (err) {
      throw unavailableOr(err)
    }
  }
}

function ttl(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs))
}

/** A connection failure becomes `CountersUnavailableError`; a server reply about the command stays as it is. */
function unavailableOr(err: unknown): unknown {
  if (err instanceof CountersUnavailableError || !isRedisUnavailable(err)) return err
  return new CountersUnavailableError(`counters: Redis is unavailable (${(err as Error).message})`, err)
}

/** Opens the Redis counters engine (the composition root imports this module lazily). */
export async function redisCounters(opts: RedisCountersOptions): Promise<Counters> {
  let connection = opts.connection
  const owned = !connection
  if (!connection) {
    if (!opts.url || !opts.log) throw new Error('redisCounters: give a connection, or a url and a log')
    connection = await openRedis(opts.url, { log: opts.log, name: opts.name ?? 'counters' })
  }
  return new RedisCounters(connection, { owned, prefix: opts.prefix }) satisfies Counters
}
