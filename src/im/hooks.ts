import type { AuthInfo } from '../records/record.ts'
import type { MessageKind } from '../records/collections/im-system.ts'
import type { MessageOut } from './protocol.ts'
import type { Member } from './store.ts'

/**
 * IM hooks for app code (`app.im.hooks`), shaped like the record hooks: a `before` handler gets
 * the event and `next()`; changing `e.message` before `next()` rewrites what is stored, throwing
 * an ApiError refuses the message with that error, and not calling `next()` refuses it with 403.
 * `after` handlers run once a message is stored and handed to every node for delivery; their
 * errors are logged, never seen by the sender.
 */
export type Next = () => Promise<void>

export interface ImBeforeStoreEvent {
  auth: AuthInfo
  conversation: string
  /** What will be stored; a hook may change `kind` and `body` before `next()`. */
  message: { kind: MessageKind; body: Record<string, unknown>; clientId: string }
}

export interface ImDeliveredEvent {
  message: MessageOut
  /** Every member of the conversation when it was stored (the sender too). */
  members: Member[]
  /**
   * Members other than the sender with no live connection on any node when it was sent (their
   * presence key had expired or was never set), muted ones left out: whom a push should reach.
   */
  offline: string[]
}

export type BeforeStoreHandler = (e: ImBeforeStoreEvent, next: Next) => Promise<void> | void
export type DeliveredHandler = (e: ImDeliveredEvent) => Promise<void> | void

export class ImHooks {
  readonly #before: BeforeStoreHandler[] = []
  readonly #delivered: DeliveredHandler[] = []

  /** Before a message is stored: reject (throw, or skip `next()`) or rewrite it (a keyword filter, moderation). */
  onMessageBeforeStore(fn: BeforeStoreHandler): void {
    this.#before.push(fn)
  }

  /** After a message is stored and fanned out, with the offline members: the push hook point. */
  onMessageDelivered(fn: DeliveredHandler): void {
    this.#delivered.push(fn)
  }

  get hasDelivered(): boolean {
    return this.#delivered.length > 0
  }

  /** Runs the before handlers in order; true when the last one called `next()` (the message may be stored). */
  async runBefore(e: ImBeforeStoreEvent): Promise<boolean> {
    let passed = false
    const step = async (i: number): Promise<void> => {
      const h = this.#before[i]
      if (!h) {
        passed = true
        return
      }
      let called = false
      await h(e, async () => {
        if (called) return
        called = true
        await step(i + 1)
      })
    }
    await step(0)
    return passed
  }

  /** Runs every delivered handler; each one's failure goes to `onError`. */
  async runDelivered(e: ImDeliveredEvent, onError: (err: unknown) => void): Promise<void> {
    for (const h of this.#delivered) {
      try {
        await h(e)
      } catch (err) {
        onError(err)
      }
    }
  }
}
