import type { ServerResponse } from 'node:http'
import { randomString } from '../records/fields/random.ts'
import type { AuthInfo } from '../records/record.ts'
import { parseSubscription, type Subscription } from './subscription.ts'

/** The length of a client id (PocketBase's). */
export const CLIENT_ID_LENGTH = 40

const LINE_BREAK = /[\r\n]/
const NONE: readonly Subscription[] = Object.freeze([])

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
  #subscriptions = new Map<string, Subscription>()
  /** The same subscriptions by topic, so an event looks up its topics instead of scanning them all. */
  #byTopic = new Map<string, Subscription[]>()
  #closed = false
  readonly #idle: NodeJS.Timeout

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: { idleMs: number; maxQueueBytes: number; onClose: (client: RealtimeClient, reason: CloseReason) => void; idPrefix?: string },
  ) {
    const prefix = opts.idPrefix ?? ''
    this.id = prefix + randomString(CLIENT_ID_LENGTH - prefix.length)
    this.#idle = setTimeout(() => this.close('idle'), opts.idleMs)
    this.#idle.unref()
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
    this.#subscriptions = new Map(keys.filter((k) => k !== '' && !LINE_BREAK.test(k)).map((k) => [k, parseSubscription(k)]))
    this.#byTopic = new Map()
    for (const sub of this.#subscriptions.values()) {
      const list = this.#byTopic.get(sub.topic)
      if (list) list.push(sub)
      else this.#byTopic.set(sub.topic, [sub])
    }
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
   * idle timer. A client whose unsent bytes pass the bound is disconnected instead.
   */
  send(message: RealtimeMessage): void {
    if (this.#closed) return
    if (this.res.writableLength > this.opts.maxQueueBytes) {
      this.close('overflow')
      return
    }
    if (LINE_BREAK.test(message.name)) return
    // A line break in the data (a hook's text; JSON has none) continues it on another `data:` line.
    const data = LINE_BREAK.test(message.data) ? message.data.split(/\r\n|\r|\n/).join('\ndata:') : message.data
    this.res.write(`id:${this.id}\nevent:${message.name}\ndata:${data}\n\n`)
    this.#idle.refresh()
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
    clearTimeout(this.#idle)
  }

  #ended(reason: CloseReason): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#idle)
    this.opts.onClose(this, reason)
  }
}
