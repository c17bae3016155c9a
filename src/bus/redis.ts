import { BusUnavailableError, deliver, type Bus, type BusHandler, type BusLog, type Unsubscribe } from './bus.ts'
import { isRedisUnavailable, openRedis, type RedisConnection, type RedisLog } from '../redis/client.ts'

/**
 * The Redis bus: Redis pub/sub between API nodes. One publisher connection (which may be shared
 * with other engines) and one subscriber connection of its own (a connection in subscriber mode
 * can run nothing else), with one Redis channel per topic however many handlers listen to it.
 * Channels are prefixed (`plinth:bus:<topic>`) so deployments sharing a server stay apart.
 *
 * When Redis goes away: `publish` rejects with `BusUnavailableError` (the message is lost, and
 * the caller knows); subscriptions are kept, and when the subscriber connection comes back every
 * topic is subscribed again (logged as `bus: resubscribed`). Messages published while a node was
 * cut off are not replayed: the bus is at most once (see `bus.ts`).
 */
export interface RedisBusOptions {
  /** A `redis://` URL: the bus opens both its connections. */
  url?: string
  /** Or a connection to publish on, shared with other engines (left open by `close()`). */
  connection?: RedisConnection
  log: RedisLog & BusLog
  /** Every channel starts with this; default the URL's namespace + `bus:` (`plinth:bus:`). */
  prefix?: string
  /** Connection names in `CLIENT LIST`; default `bus-pub` and `bus-sub`. */
  names?: { pub: string; sub: string }
}

interface Topic {
  handlers: Set<{ handler: BusHandler; active: boolean }>
  /** Settles when the SUBSCRIBE for this topic has been answered (or failed). */
  subscribed: Promise<void>
}

export class RedisBus implements Bus {
  readonly name = 'redis' as const
  readonly reachesOtherNodes = true
  readonly #pub: RedisConnection
  readonly #ownsPub: boolean
  readonly #sub: RedisConnection
  readonly #prefix: string
  readonly #log: RedisLog & BusLog
  readonly #topics = new Map<string, Topic>()
  #closed = false

  constructor(pub: RedisConnection, sub: RedisConnection, opts: { ownsPub: boolean; log: RedisLog & BusLog; prefix?: string }) {
    this.#pub = pub
    this.#ownsPub = opts.ownsPub
    this.#sub = sub
    this.#log = opts.log
    this.#prefix = opts.prefix ?? `${pub.prefix}bus:`
    sub.client.on('message', (channel: string, message: string) => this.#receive(channel, message))
    // After a reconnect the new socket has no subscriptions: make them again.
    sub.client.on('ready', () => void this.#resubscribe())
  }

  async publish(topic: string, message: string): Promise<void> {
    try {
      await this.#pub.client.publish(this.#prefix + topic, message)
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err
      throw new BusUnavailableError(`bus: Redis is unavailable, message to ${topic} lost (${(err as Error).message})`, err)
    }
  }

  async subscribe(topic: string, handler: BusHandler): Promise<Unsubscribe> {
    if (this.#closed) throw new Error('bus: closed')
    const entry = { handler, active: true }
    let t = this.#topics.get(topic)
    if (!t) {
      t = { handlers: new Set(), subscribed: this.#subscribeChannels([topic]) }
      this.#topics.set(topic, t)
    }
    t.handlers.add(entry)
    await t.subscribed
    return async () => {
      if (!entry.active) return
      entry.active = false
      const current = this.#topics.get(topic)
      if (!current?.handlers.delete(entry) || current.handlers.size > 0) return
      this.#topics.delete(topic)
      if (this.#sub.ready) {
        // Down: the reconnected socket will not have it anyway.
        await this.#sub.client.unsubscribe(this.#prefix + topic).catch(() => {})
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const t of this.#topics.values()) for (const h of t.handlers) h.active = false
    this.#topics.clear()
    await Promise.all([this.#sub.close(), this.#ownsPub ? this.#pub.close() : undefined])
  }

  /** SUBSCRIBE; never rejects. Down: nothing to do now, the 'ready' listener subscribes later. */
  async #subscribeChannels(topics: string[]): Promise<void> {
    if (!this.#sub.ready || !topics.length) return
    try {
      await this.#sub.client.subscribe(...topics.map((t) => this.#prefix + t))
    } catch (err) {
      // Lost meanwhile (resubscribed on reconnect), or no answer in time (the socket timeout then
      // drops the connection, and the reconnect resubscribes).
      this.#log.warn({ err: (err as Error).message, topics }, 'bus: subscribe failed, retried on reconnect')
    }
  }

  async #resubscribe(): Promise<void> {
    if (this.#closed) return
    const topics = [...this.#topics.keys()]
    if (!topics.length) return
    await this.#subscribeChannels(topics)
    if (this.#sub.ready) this.#log.info({ topics: topics.length }, 'bus: resubscribed')
  }

  #receive(channel: string, message: string): void {
    if (!channel.startsWith(this.#prefix)) return
    const topic = channel.slice(this.#prefix.length)
    const t = this.#topics.get(topic)
    if (!t) return
    for (const h of [...t.handlers]) if (h.active) deliver(this.#log, topic, h.handler, message)
  }
}

/** Opens the Redis bus (the composition root imports this module lazily). */
export async function redisBus(opts: RedisBusOptions): Promise<Bus> {
  const names = opts.names ?? { pub: 'bus-pub', sub: 'bus-sub' }
  let pub = opts.connection
  const ownsPub = !pub
  if (!pub) {
    if (!opts.url) throw new Error('redisBus: give a connection or a url')
    pub = await openRedis(opts.url, { log: opts.log, name: names.pub })
  }
  const sub = await pub.duplicate(names.sub)
  return new RedisBus(pub, sub, { ownsPub, log: opts.log, prefix: opts.prefix }) satisfies Bus
}
