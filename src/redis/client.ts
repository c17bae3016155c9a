/**
 * Opening a Redis connection for the Redis engines (counters, cache, bus). ioredis is imported
 * here, lazily, so nothing loads it unless a Redis URL is configured.
 *
 * How it behaves when Redis goes away:
 * - It reconnects by itself, forever, with a capped exponential backoff (50 ms doubling up to
 *   `maxBackoffMs`, plus jitter so a fleet of nodes does not reconnect in step), and says so in
 *   the log once per outage: `redis: connection lost, reconnecting`, then `redis: reconnected`.
 * - Commands fail fast while it is disconnected instead of queueing: `enableOfflineQueue: false`
 *   rejects a command issued while down at once, and `maxRetriesPerRequest: 0` with
 *   `autoResendUnfulfilledCommands: false` rejects the commands in flight when the connection
 *   drops instead of holding them for the reconnect. A request must not wait for an outage to
 *   end, and an INCRBY resent after a reconnect could count twice (its first copy may have run).
 *   Each engine decides what a failure means: counters fail closed (503), the cache acts as no
 *   cache, the bus reports it.
 * - A server that stops answering without closing the socket (a network partition) is caught by
 *   `commandTimeoutMs` (the command fails) and by the socket timeout (a socket that owes replies
 *   and receives nothing for `socketTimeoutMs` is dropped, which starts a reconnect).
 *
 * RESP2 is used rather than ioredis's default RESP3: every Redis-compatible server (Redis 5,
 * cloud proxies, Valkey, KeyDB) speaks it, and some proxies answer HELLO with errors ioredis
 * treats as fatal.
 */
import type { Redis, RedisOptions } from 'ioredis'
import { maskUrl, parseRedisUrl, type RedisTarget } from '../config/urls.ts'

/** The two log levels the connection uses; a pino logger fits. */
export interface RedisLog {
  warn(obj: Record<string, unknown>, msg: string): void
  info(obj: Record<string, unknown>, msg: string): void
}

export interface OpenRedisOptions {
  log: RedisLog
  /** What this connection is for (`counters`, `bus-sub`): shown in logs and in `CLIENT LIST`. */
  name: string
  /** A command that gets no reply in this long fails; default 2000 ms. */
  commandTimeoutMs?: number
  /** Giving up on one connection attempt; default 5000 ms. */
  connectTimeoutMs?: number
  /** A socket that owes replies and receives nothing for this long is dropped; default 5000 ms. */
  socketTimeoutMs?: number
  /** The longest wait between reconnection attempts; default 2000 ms. */
  maxBackoffMs?: number
}

/** One Redis connection and what the engines need to know about it. */
export interface RedisConnection {
  /** The ioredis client. NB: its commands reject while disconnected (see above). */
  readonly client: Redis
  /** The URL with its password masked, for logs. */
  readonly url: string
  /** The key and channel namespace from the URL (`plinth:` unless `?prefix=`). */
  readonly prefix: string
  /** True while connected and ready for commands. */
  readonly ready: boolean
  /** Opens a second connection to the same server (a pub/sub subscriber needs its own). */
  duplicate(name: string): Promise<RedisConnection>
  /** Quits cleanly (QUIT when connected) and stops reconnecting. Idempotent. */
  close(): Promise<void>
}

/** The delay before reconnection attempt `times` (1, 2, ...): 50 ms doubling, capped, with jitter. */
export function reconnectDelay(times: number, maxBackoffMs = 2000): number {
  const base = Math.min(maxBackoffMs, 50 * 2 ** Math.min(Math.max(0, times - 1), 16))
  return base + Math.floor(Math.random() * Math.min(100, base / 2))
}

/**
 * True when `err` means Redis could not be reached or did not answer (the engine should treat
 * the server as unavailable); false for an error the server sent about the command itself
 * (a wrong type, a bad argument), which is a bug to surface as it is.
 */
export function isRedisUnavailable(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | undefined
  if (e?.name !== 'ReplyError') return true
  // Server replies that describe the server's state, not the command: loading, read-only
  // replica, out of memory, no auth after a restart, cluster down, busy script.
  const message = typeof e.message === 'string' ? e.message : ''
  return /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|NOAUTH|NOPERM)\b/.test(message)
}

/**
 * Opens a connection to `url`. Resolves once the first attempt has settled, connected or not:
 * a node can start while Redis is down (its engines then fail as described above and recover
 * when Redis comes back), and the log says which it was. Throws only for a malformed URL (a
 * ConfigError naming `redis`; the composition root validates every URL before this).
 */
export async function openRedis(url: string, opts: OpenRedisOptions): Promise<RedisConnection> {
  const target = parseRedisUrl(url)
  const { Redis } = await import('ioredis')
  return open(Redis, url, target, opts)
}

type RedisClass = typeof import('ioredis').Redis

async function open(RedisCtor: RedisClass, url: string, target: RedisTarget, opts: OpenRedisOptions): Promise<RedisConnection> {
  const masked = maskUrl(url)
  const { log, name } = opts
  const maxBackoffMs = opts.maxBackoffMs ?? 2000
  const options: RedisOptions = {
    host: target.host,
    port: target.port,
    db: target.db,
    username: target.username,
    password: target.password,
    ...(target.tls ? { tls: { servername: target.host } } : {}),
    connectionName: `plinth:${name}`,
    protocol: 2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The bus resubscribes itself after a reconnect, so it can tell when that is done.
    autoResubscribe: false,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    socketTimeout: opts.socketTimeoutMs ?? 5000,
    retryStrategy: (times) => reconnectDelay(times, maxBackoffMs),
    lazyConnect: true,
  }
  const client = new RedisCtor(options)
  const fields = { redis: masked, connection: name }

  // 'connecting': the first attempt; 'up'; 'down': an outage, already logged; 'closed'.
  let state: 'connecting' | 'up' | 'down' | 'closed' = 'connecting'
  let lastError: string | undefined
  let settleFirst: () => void = () => {}
  const firstAttempt = new Promise<void>((resolve) => (settleFirst = resolve))

  // NB: without an 'error' listener ioredis prints every failed attempt to the console. The
  // message is a socket error (address and port, never the password), kept for the outage line.
  client.on('error', (err: Error) => {
    lastError = err.message
  })
  client.on('ready', () => {
    if (state === 'down') log.info(fields, 'redis: reconnected')
    state = 'up'
    lastError = undefined
    settleFirst()
  })
  client.on('close', () => {
    if (state === 'up') log.warn({ ...fields, err: lastError }, 'redis: connection lost, reconnecting')
    else if (state === 'connecting') log.warn({ ...fields, err: lastError }, 'redis: cannot connect, retrying')
    if (state === 'up' || state === 'connecting') state = 'down'
    settleFirst()
  })

  client.connect().catch(() => {
    // The failure is logged by the 'close' listener and retried by retryStrategy.
  })
  await firstAttempt

  let closing: Promise<void> | undefined
  const connection: RedisConnection = {
    client,
    url: masked,
    prefix: target.prefix,
    get ready() {
      return client.status === 'ready'
    },
    duplicate: (otherName) => open(RedisCtor, url, target, { ...opts, name: otherName }),
    close() {
      closing ??= (async () => {
        state = 'closed'
        if (client.status === 'ready') {
          const ended = new Promise((resolve) => client.once('end', resolve))
          try {
            await client.quit()
            // Redis closes the socket after QUIT; a proxy may not, so close our end too, and
            // wait until the socket is really gone (a process exiting next loses nothing).
            client.disconnect()
            await ended
            return
          } catch {
            // Lost at the last moment: fall through and drop the socket.
          }
        }
        // Down or connecting: cancels the pending reconnection and drops any socket.
        client.disconnect()
      })()
      return closing
    },
  }
  return connection
}
