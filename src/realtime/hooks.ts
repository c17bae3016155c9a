import type { FastifyRequest } from 'fastify'
import type { AuthInfo } from '../records/record.ts'
import type { RealtimeClient, RealtimeMessage } from './client.ts'

/**
 * Realtime hooks for app code, shaped like the record hooks (`records/hooks.ts`) and named after
 * PocketBase's `OnRealtime*`: each handler gets the event and `next()`; not calling `next()`
 * stops what it wraps (a connect is refused, a subscribe request changes nothing, a message is
 * not sent), and throwing an ApiError from a request hook answers it with that error.
 */
export type Next = () => Promise<void>
export type Handler<E> = (e: E, next: Next) => Promise<void> | void

export interface RealtimeConnectEvent {
  client: RealtimeClient
  request: FastifyRequest
}
/**
 * A subscribe request, on the node that received it. `client` is set when the stream is on this
 * node; behind a proxy it may be on another one, which applies what `next()` passes on.
 */
export interface RealtimeSubscribeEvent {
  clientId: string
  client?: RealtimeClient
  request: FastifyRequest
  /** Who the client will be (the request's auth); a hook may change it before `next()`. */
  auth: AuthInfo | null
  /** The requested subscriptions; a hook may change them before `next()`. */
  subscriptions: string[]
}
export interface RealtimeMessageEvent {
  client: RealtimeClient
  /** What will be written; a hook may change it before `next()`. */
  message: RealtimeMessage
}

class Hook<E> {
  private readonly handlers: Handler<E>[] = []

  add(fn: Handler<E>): void {
    this.handlers.push(fn)
  }

  get empty(): boolean {
    return this.handlers.length === 0
  }

  /** Runs the handlers in order, each inside the previous one's `next()`, then `final`. */
  async run(e: E, final: (e: E) => Promise<void> | void): Promise<void> {
    const step = async (i: number): Promise<void> => {
      const h = this.handlers[i]
      if (!h) return final(e)
      let called = false
      await h(e, async () => {
        if (called) return
        called = true
        await step(i + 1)
      })
    }
    await step(0)
  }
}

export class RealtimeHooks {
  readonly connect = new Hook<RealtimeConnectEvent>()
  readonly subscribe = new Hook<RealtimeSubscribeEvent>()
  readonly message = new Hook<RealtimeMessageEvent>()

  /** Before the stream's `PB_CONNECT`: PocketBase's `OnRealtimeConnectRequest`. */
  onRealtimeConnect(fn: Handler<RealtimeConnectEvent>): void {
    this.connect.add(fn)
  }
  /** Around a subscribe request: PocketBase's `OnRealtimeSubscribeRequest`. */
  onRealtimeSubscribe(fn: Handler<RealtimeSubscribeEvent>): void {
    this.subscribe.add(fn)
  }
  /** Around every message written to a client: PocketBase's `OnRealtimeMessageSend`. */
  onRealtimeMessage(fn: Handler<RealtimeMessageEvent>): void {
    this.message.add(fn)
  }
}
