import type { Bus } from '../bus/bus.ts'
import type { Logger } from '../log.ts'
import { randomString } from '../records/fields/random.ts'
import type { AuthInfo, RecordJson } from '../records/record.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { CLIENT_ID_LENGTH } from './client.ts'

/**
 * Subscribe requests for clients of other nodes. Behind a proxy the `POST /api/realtime` of a
 * client may reach another node than its stream, so a client id starts with the id of the node
 * that holds the stream, and the request is passed to that node's own bus topic
 * (`realtime.node.NODE_ID`), which answers on the asking node's topic.
 */

/** Each node's own topic prefix: subscribe requests for its clients, and the answers to its own. */
export const NODE_TOPIC = 'realtime.node.'
/** The length of a node id, which starts each of its client ids. */
export const NODE_ID_LENGTH = 8
/** How long a request waits for the other node (then 404: the client, or its node, is gone). */
const FORWARD_TIMEOUT_MS = 3_000
/** Requests waiting for other nodes at once; past it, 404 at once. */
const MAX_FORWARDS = 1_000

/** What a subscribe request for a client came to: PocketBase's 204, 404 or 403. */
export type SubscribeOutcome = 'ok' | 'not_found' | 'forbidden'

/** An auth as it travels between nodes: the collection id, the raw record (no password hash), superuser or not. */
interface WireAuth {
  c: string
  r: RecordJson
  su: boolean
}

type NodeMessage =
  | { k: 'sub'; id: string; from: string; clientId: string; auth: WireAuth | null; subs: string[] }
  | { k: 're'; id: string; outcome: SubscribeOutcome }

/** A record without its password hash, to travel on the bus. */
export function withoutPassword(record: RecordJson): RecordJson {
  const r: RecordJson = { ...record }
  delete r.password
  return r
}

/** Sets a client's subscriptions on this node (the caller's `#apply`). */
export type ApplyLocally = (clientId: string, auth: AuthInfo | null, subscriptions: string[]) => SubscribeOutcome

export class SubscribeForwarder {
  readonly #waiting = new Map<string, (outcome: SubscribeOutcome) => void>()

  constructor(
    private readonly deps: { bus: Bus; registry: CollectionRegistry; log: Logger },
    private readonly nodeId: string,
    private readonly apply: ApplyLocally,
  ) {}

  /** Starts answering other nodes' requests for this node's clients; returns what stops it. */
  start(): Promise<() => Promise<void>> {
    return this.deps.bus.subscribe(NODE_TOPIC + this.nodeId, (m) => this.#onMessage(m))
  }

  /** Asks the node that holds `clientId` to apply the request; 404 if it does not answer in time. */
  request(clientId: string, auth: AuthInfo | null, subscriptions: string[]): Promise<SubscribeOutcome> {
    if (clientId.length !== CLIENT_ID_LENGTH || this.#waiting.size >= MAX_FORWARDS) return Promise.resolve('not_found')
    const id = randomString(16)
    const answer = new Promise<SubscribeOutcome>((resolve) => {
      const timer = setTimeout(() => settle('not_found'), FORWARD_TIMEOUT_MS)
      const settle = (outcome: SubscribeOutcome) => {
        clearTimeout(timer)
        this.#waiting.delete(id)
        resolve(outcome)
      }
      this.#waiting.set(id, settle)
    })
    const wire: WireAuth | null = auth && { c: auth.collection.id, r: withoutPassword(auth.record), su: auth.isSuperuser }
    const message: NodeMessage = { k: 'sub', id, from: this.nodeId, clientId, auth: wire, subs: subscriptions }
    this.deps.bus.publish(NODE_TOPIC + clientId.slice(0, NODE_ID_LENGTH), JSON.stringify(message)).catch(() => this.#waiting.get(id)?.('not_found'))
    return answer
  }

  /** Answers every waiting request with 404 (the node stops). */
  close(): void {
    for (const settle of [...this.#waiting.values()]) settle('not_found')
  }

  /** A request from another node for a client of this one, or the answer to one of ours. */
  #onMessage(text: string): void {
    const m = JSON.parse(text) as NodeMessage
    if (m.k === 're') return this.#waiting.get(m.id)?.(m.outcome)
    let auth: AuthInfo | null = null
    if (m.auth) {
      const collection = this.deps.registry.get(m.auth.c)
      if (collection) auth = Object.freeze({ collection, record: Object.freeze(m.auth.r), isSuperuser: m.auth.su })
    }
    // An auth whose collection this node does not know (yet) cannot be checked: refused.
    const outcome: SubscribeOutcome = m.auth && !auth ? 'forbidden' : this.apply(m.clientId, auth, m.subs)
    const reply: NodeMessage = { k: 're', id: m.id, outcome }
    this.deps.bus.publish(NODE_TOPIC + m.from, JSON.stringify(reply)).catch((err: unknown) => this.deps.log.warn({ err }, 'realtime: could not answer a subscribe request of another node'))
  }
}
