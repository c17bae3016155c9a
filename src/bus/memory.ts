import { deliver, type Bus, type BusHandler, type BusLog, type Unsubscribe } from './bus.ts'

/**
 * The in-process bus: the embedded default for one node (every subscriber is in this process).
 *
 * Messages go into one FIFO queue that is drained on a later turn of the event loop
 * (`setImmediate`, not a microtask, so a handler that publishes again cannot starve I/O), so
 * delivery is asynchronous and in publish order. A message reaches the subscriptions that existed
 * when it was published and are still active when it is delivered, as with Redis.
 */
export interface MemoryBusOptions {
  /** Where handler failures go; default a process warning. */
  log?: BusLog
}

interface Subscription {
  topic: string
  handler: BusHandler
  active: boolean
}

export class MemoryBus implements Bus {
  readonly name = 'memory' as const
  readonly reachesOtherNodes = false
  readonly #topics = new Map<string, Set<Subscription>>()
  readonly #queue: { topic: string; message: string; to: Subscription[] }[] = []
  readonly #log: BusLog
  #scheduled = false
  #closed = false

  constructor(opts: MemoryBusOptions = {}) {
    this.#log = opts.log ?? {
      error: (obj, msg) => process.emitWarning(`${msg}: ${String((obj.err as Error | undefined)?.message ?? '')}`),
    }
  }

  async publish(topic: string, message: string): Promise<void> {
    if (this.#closed) return
    const subs = this.#topics.get(topic)
    if (!subs?.size) return
    this.#queue.push({ topic, message, to: [...subs] })
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#drain())
    }
  }

  async subscribe(topic: string, handler: BusHandler): Promise<Unsubscribe> {
    if (this.#closed) throw new Error('bus: closed')
    const sub: Subscription = { topic, handler, active: true }
    let subs = this.#topics.get(topic)
    if (!subs) this.#topics.set(topic, (subs = new Set()))
    subs.add(sub)
    return async () => {
      sub.active = false
      const set = this.#topics.get(topic)
      set?.delete(sub)
      if (set?.size === 0) this.#topics.delete(topic)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const subs of this.#topics.values()) for (const sub of subs) sub.active = false
    this.#topics.clear()
    this.#queue.length = 0
  }

  #drain(): void {
    this.#scheduled = false
    // Messages published by handlers during this drain join the end of the queue, in order.
    while (this.#queue.length) {
      const { topic, message, to } = this.#queue.shift()!
      for (const sub of to) if (sub.active) deliver(this.#log, topic, sub.handler, message)
    }
  }
}

/** The engine the composition root opens when no bus URL is configured. */
export function memoryBus(opts: MemoryBusOptions = {}): Bus {
  return new MemoryBus(opts) satisfies Bus
}
