import type { ServerResponse } from 'node:http'
import { randomString } from '../records/fields/random.ts'
import type { AuthInfo } from '../records/record.ts'
import { parseSubscription, type Subscription } from './subscription.ts'

/** The length of a client id (PocketBase's). */
export const CLIENT_ID_LENGTH = 40

const LINE_BREAK = /[\r\n]/
const NONE: readonly Subscription[] = Object.freeze([])
/** The subscriptions of a client that has none yet (most idle streams): one shared empty map. */
const NO_SUBSCRIPTIONS: ReadonlyMap<string, Subscription> = new Map()
const NO_TOPICS: ReadonlyMap<string, Subscription[]> = new Map()

/** What every client of one node shares (one object, not one per stream). */
export interface ClientOptions {
  maxQueueBytes: number
  onClose: (client: RealtimeClient, reason: CloseReason) => void
  idPrefix?: string
}

/** One message to a client: the SSE `event:` name and its `data:` (one line of JSON). */
export interface RealtimeMessage {
  name: string
  data: string
}

/** How a client's stream ended, for logs and the disconnect hook. */
export type CloseReason = 'client' | 'idle' | 'overflow' | 'auth' | 'shutdown'

/**
 * One connected SSE stream (`GET /api/realtime`) on this node, with the subscriptions and the
 * auth its last `POST /api/realtime` set. Writes go straight to the socket; what the socket has
 * not taken yet is the client's send queue, and it is bounded (`maxQueueBytes`): a client that
 * falls that far behind is cut (the SDKs reconnect and resubscribe).
 */
export class RealtimeClient {
  /**
   * PocketBase's form, 40 letters and digits: this node's id, then random ones, so any node can
   * tell where a client is connected (`Realtime.subscribe`).
   */
  readonly id: string
  /** Who the client is: set by its subscribe requests, refreshed when its auth record changes. */
  auth: AuthInfo | null = null
  #subscriptions = NO_SUBSCRIPTIONS
  /** The same subscriptions by topic, so an event looks up its topics instead of scanning them all. */
  #byTopic = NO_TOPICS
  #closed = false
  /**
   * When the stream last had something written (`performance.now()`); `closeIfIdle` compares it.
   * A number, not a timer per client: one sweep per node checks them all (`sweepIdle`).
   */
  #lastWrite = performance.now()

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: ClientOptions,
  ) {
    const prefix = opts.idPrefix ?? ''
    this.id = prefix + randomString(CLIENT_ID_LENGTH - prefix.length)
    res.on('close', () => this.#ended('client'))
  }

  get closed(): boolean {
    return this.#closed
  }

  /** The subscriptions, by key (the event name). */
  get subscriptions(): ReadonlyMap<string, Subscription> {
    return this.#subscriptions
  }

  /**
   * Replaces every subscription (PocketBase's subscribe request does the same). A key with a line
   * break is dropped: it would be an `event:` line that ends early.
   */
  setSubscriptions(keys: readonly string[]): void {
    const subscriptions = new Map(keys.filter((k) => k !== '' && !LINE_BREAK.test(k)).map((k) => [k, parseSubscription(k)]))
    const byTopic = new Map<string, Subscription[]>()
    for (const sub of subscriptions.values()) {
      const list = byTopic.get(sub.topic)
      if (list) list.push(sub)
      else byTopic.set(sub.topic, [sub])
    }
    this.#subscriptions = subscriptions.size ? subscriptions : NO_SUBSCRIPTIONS
    this.#byTopic = byTopic.size ? byTopic : NO_TOPICS
  }

  /**
   * The subscriptions that receive events of `topic`: those whose topic is exactly it (with or
   * without options).
   */
  subscribedTo(topic: string): readonly Subscription[] {
    return this.#byTopic.get(topic) ?? NONE
  }

  /**
   * Writes one event, PocketBase's way (`id:` the client id, `event:`, `data:`), and restarts the
   * idle time. A client whose unsent bytes pass the bound is disconnected instead. True when the
   * event was written.
   */
  send(message: RealtimeMessage): boolean {
    if (this.#closed) return false
    if (this.res.writableLength > this.opts.maxQueueBytes) {
      this.close('overflow')
      return false
    }
    if (LINE_BREAK.test(message.name)) return false
    // A line break in the data (a hook's text; JSON has none) continues it on another `data:` line.
    const data = LINE_BREAK.test(message.data) ? message.data.split(/\r\n|\r|\n/).join('\ndata:') : message.data
    this.res.write(`id:${this.id}\nevent:${message.name}\ndata:${data}\n\n`)
    this.#lastWrite = performance.now()
    return true
  }

  /** Ends the stream if nothing was written to it for `idleMs` (PocketBase's idle close). */
  closeIfIdle(idleMs: number, now = performance.now()): void {
    if (now - this.#lastWrite >= idleMs) this.close('idle')
  }

  /**
   * Ends the stream. An overflowing client's socket is destroyed (its buffer will not drain);
   * otherwise the stream ends cleanly, so the client reconnects (to another node, on shutdown).
   */
  close(reason: CloseReason): void {
    if (this.#closed) return
    if (reason === 'overflow') this.res.destroy()
    else this.res.end()
    this.#ended(reason)
  }

  /** Forgets a client whose stream never opened (its connect hook refused it); the response is left alone. */
  discard(): void {
    this.#closed = true
  }

  #ended(reason: CloseReason): void {
    if (this.#closed) return
    this.#closed = true
    this.opts.onClose(this, reason)
  }
}

/**
 * Every `period` ms, ends the streams of `clients()` that had nothing written for `idleMs`: one
 * timer for a node's clients instead of one per client (a timer is ~200 bytes a stream; a stream
 * closes between `idleMs` and `idleMs + period` after its last event). Returns the stop.
 */
export function sweepIdle(clients: () => Iterable<RealtimeClient>, idleMs: number): () => void {
  const period = Math.min(10_000, Math.max(10, Math.floor(idleMs / 10)))
  const timer = setInterval(() => {
    const now = performance.now()
    for (const client of [...clients()]) client.closeIfIdle(idleMs, now)
  }, period)
  timer.unref()
  return () => clearInterval(timer)
}
