/**
 * The bus port: pub/sub between API nodes (realtime fan-out, cache invalidation, schema changes).
 * The embedded engine is in-process (`memory.ts`), the scaled one Redis pub/sub (`redis.ts`).
 *
 * Delivery is at most once, like Redis pub/sub: a message reaches the handlers subscribed to its
 * topic when it is published, on every node, in publish order per topic (per publishing node).
 * Nothing is stored: a node that is disconnected when a message is published never sees it, so a
 * feature that must not miss anything (a job, a persisted chat message) keeps its data in SQL or
 * the queue and uses the bus only to say "look again".
 *
 * Handlers run asynchronously, never inside `publish`; one that throws is logged and does not
 * stop delivery to the others.
 */

/** Receives one message; its errors are logged by the bus. */
export type BusHandler = (message: string) => void | Promise<void>

/** Ends a subscription; calling it twice is harmless. */
export type Unsubscribe = () => Promise<void>

export interface Bus {
  /** For logs only: never branch on it. */
  readonly name: 'memory' | 'redis'
  /**
   * Whether a message can reach another process (another node). False for the in-process bus:
   * a publisher whose own node has nobody to hear a message may then skip making it at all.
   */
  readonly reachesOtherNodes: boolean
  /**
   * Sends `message` to every subscriber of `topic` on every node. Resolves once the message is
   * handed over (not delivered); rejects with `BusUnavailableError` when it cannot be (Redis down),
   * so the caller knows that message is lost.
   */
  publish(topic: string, message: string): Promise<void>
  /**
   * Calls `handler` for each message published to `topic` from now on. Resolves once the
   * subscription is active, so a message published after that is delivered; when Redis is down
   * it resolves at once and the subscription starts when the connection comes back.
   */
  subscribe(topic: string, handler: BusHandler): Promise<Unsubscribe>
  /** Ends every subscription and releases connections. */
  close(): Promise<void>
}

/** A message could not be handed to the bus (Redis unreachable); it is lost. */
export class BusUnavailableError extends Error {
  constructor(message = 'bus: the message bus is unavailable', cause?: unknown) {
    super(message, { cause })
    this.name = 'BusUnavailableError'
  }
}

/** Where a bus reports handler failures. */
export interface BusLog {
  error(obj: Record<string, unknown>, msg: string): void
}

/** Runs one handler, logging a throw or a rejection instead of passing it on. */
export function deliver(log: BusLog, topic: string, handler: BusHandler, message: string): void {
  try {
    const result = handler(message)
    if (result instanceof Promise) result.catch((err: unknown) => log.error({ err, topic }, 'bus: a handler failed'))
  } catch (err) {
    log.error({ err, topic }, 'bus: a handler failed')
  }
}
