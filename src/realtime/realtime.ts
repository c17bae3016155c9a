import type { ServerResponse } from 'node:http'
import type { Bus } from '../bus/bus.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { isAuthCollection, type Collection } from '../records/model.ts'
import type { AuthInfo, RecordJson, RequestInfo } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { RecordAction, RecordChange } from '../records/unit-of-work.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { randomString } from '../records/fields/random.ts'
import { NODE_ID_LENGTH, SubscribeForwarder, withoutPassword, type SubscribeOutcome } from './forward.ts'
import { RealtimeClient, sweepIdle, type ClientOptions, type CloseReason, type RealtimeMessage } from './client.ts'
import { RealtimeHooks } from './hooks.ts'
import type { CdnSettings } from '../files/cdn/record-urls.ts'
import { presentTo, visibleTo, type Check } from './record-access.ts'

/** Bus topics: committed record changes, and messages app code publishes to custom topics. */
export const RECORDS_TOPIC = 'realtime.records'
export const CUSTOM_TOPIC = 'realtime.custom'

/** PocketBase closes a stream that had nothing to send for 5 minutes; the SDKs reconnect (config `realtime.idleTimeout`). */
export const IDLE_MS = 5 * 60_000
/** Bytes a client may have waiting in its socket before it is cut (its send queue's bound; config `realtime.maxQueueBytes`). */
export const MAX_QUEUE_BYTES = 1 << 20
/** Bus messages waiting to be delivered on this node before new ones are dropped (and logged). */
const MAX_PENDING = 10_000

/** One committed change as it travels between nodes. */
interface WireChange {
  a: RecordAction
  /** The collection id. */
  c: string
  /** The record, raw (hidden fields and `tokenKey` kept; the password hash dropped). */
  r: RecordJson
}

/** PocketBase's check: the same auth record (or both guests). */
export function sameAuth(a: AuthInfo | null, b: AuthInfo | null): boolean {
  if (!a || !b) return a === b
  return a.record.id === b.record.id && a.collection.id === b.collection.id
}

/** Which clients a custom message reaches, besides their subscription to its topic. */
export type ClientFilter = (client: RealtimeClient) => boolean

export interface RealtimeDeps {
  registry: CollectionRegistry
  reader: () => SqlEngine
  bus: Bus
  records: Pick<RecordsService, 'onCommit'>
  log: Logger
  metrics: Pick<Metrics, 'realtimeClients' | 'realtimeEvents' | 'realtimeDropped'>
  /** With `cdn.baseUrl` set, events carry signed CDN URLs of their files (`@files`). */
  cdn?: CdnSettings
}

export interface RealtimeOptions {
  idleMs?: number
  maxQueueBytes?: number
}

/**
 * PocketBase's realtime on every node: the SSE clients connected here, record events from
 * committed writes, and custom topics.
 *
 * Every committed unit of work is published once on the bus (`RECORDS_TOPIC`) by the node that
 * wrote it; every node (that one included) hears it and delivers to its own clients. Bus
 * messages are handled one after the other, so each client gets events in commit order; the
 * checks of one event for its many clients run side by side.
 *
 * NB: the bus carries records with their hidden fields and `tokenKey` (the rules need them, and
 * `tokenKey` tells a revoked session): the Redis of a cluster must be as private as its database.
 */
export class Realtime {
  readonly hooks = new RealtimeHooks()
  /** Starts the ids of this node's clients. */
  readonly nodeId = randomString(NODE_ID_LENGTH)
  readonly #forwarder: SubscribeForwarder
  readonly #authKeys = new WeakMap<AuthInfo, string>()
  #authSeq = 0
  readonly #clients = new Map<string, RealtimeClient>()
  /** What every client of this node shares. */
  readonly #clientOptions: ClientOptions
  /**
   * Registered clients that a record change concerns: those with a subscription or an auth (an
   * auth record's change may end their stream). With none, and a bus that stays in this process,
   * a commit publishes nothing.
   */
  #interested = 0
  #chain: Promise<void> = Promise.resolve()
  #pending = 0
  #stops: (() => Promise<void> | void)[] = []
  #closed = false

  private constructor(
    private readonly deps: RealtimeDeps,
    private readonly opts: Required<RealtimeOptions>,
  ) {
    this.#forwarder = new SubscribeForwarder(deps, this.nodeId, (clientId, auth, subs) => this.#apply(clientId, auth, subs))
    this.#clientOptions = { maxQueueBytes: opts.maxQueueBytes, onClose: (c, reason) => this.#closedClient(c, reason), idPrefix: this.nodeId }
  }

  /** Starts following committed changes and the bus. */
  static async start(deps: RealtimeDeps, opts: RealtimeOptions = {}): Promise<Realtime> {
    const rt = new Realtime(deps, { idleMs: opts.idleMs ?? IDLE_MS, maxQueueBytes: opts.maxQueueBytes ?? MAX_QUEUE_BYTES })
    rt.#stops.push(await deps.bus.subscribe(RECORDS_TOPIC, (m) => rt.#enqueue(() => rt.#onRecords(m))))
    rt.#stops.push(await deps.bus.subscribe(CUSTOM_TOPIC, (m) => rt.#enqueue(() => rt.#onCustom(m))))
    rt.#stops.push(await rt.#forwarder.start())
    rt.#stops.push(deps.records.onCommit((changes) => rt.#publishChanges(changes)))
    rt.#stops.push(sweepIdle(() => rt.#clients.values(), rt.opts.idleMs))
    return rt
  }

  /** Clients connected to this node now. */
  get size(): number {
    return this.#clients.size
  }

  /** A client of this node by id. */
  client(id: string): RealtimeClient | undefined {
    return this.#clients.get(id)
  }

  /** Every client of this node. */
  clients(): IterableIterator<RealtimeClient> {
    return this.#clients.values()
  }

  /** A client for a new stream, not yet registered (its connect hook runs first). */
  open(res: ServerResponse): RealtimeClient {
    return new RealtimeClient(res, this.#clientOptions)
  }

  /** Registers a client whose stream is open: from now on it receives what it subscribes to. */
  register(client: RealtimeClient): void {
    if (client.closed) return
    if (this.#closed) return client.close('shutdown')
    this.#clients.set(client.id, client)
    this.deps.metrics.realtimeClients.inc()
  }

  /** Whether `clientId` was made by this node (it may be gone since). */
  isLocal(clientId: string): boolean {
    return clientId.startsWith(this.nodeId)
  }

  /**
   * Replaces a client's subscriptions and sets its auth, on whichever node its stream is: a proxy
   * may send the subscribe request to another node than the stream. A client of another node is
   * reached through that node's bus topic; no answer in time means it is gone (404).
   */
  async subscribe(clientId: string, auth: AuthInfo | null, subscriptions: string[]): Promise<SubscribeOutcome> {
    if (this.isLocal(clientId)) return this.#apply(clientId, auth, subscriptions)
    if (this.#closed) return 'not_found'
    return this.#forwarder.request(clientId, auth, subscriptions)
  }

  #apply(clientId: string, auth: AuthInfo | null, subscriptions: string[]): SubscribeOutcome {
    const client = this.#clients.get(clientId)
    if (!client) return 'not_found'
    if (client.auth && !sameAuth(client.auth, auth)) return 'forbidden'
    const before = interest(client)
    client.auth = auth
    client.setSubscriptions(subscriptions)
    this.#interested += interest(client) - before
    return 'ok'
  }

  /** Writes one message through the message hooks. */
  async send(client: RealtimeClient, message: RealtimeMessage): Promise<void> {
    if (this.hooks.message.empty) return this.#write(client, message)
    await this.hooks.message.run({ client, message }, (e) => this.#write(e.client, e.message))
  }

  #write(client: RealtimeClient, message: RealtimeMessage): void {
    if (client.send(message)) this.deps.metrics.realtimeEvents.inc()
  }

  /**
   * Sends `data` (JSON) to every client subscribed to `topic`, on every node. With `filter`, only
   * to the clients it accepts. NB: a function cannot travel between nodes: with a filter the
   * message reaches this node's clients only (app code that needs a filter on every node calls
   * `publish` where its clients are, e.g. from a bus subscription of its own).
   */
  async publish(topic: string, data: unknown, filter?: ClientFilter): Promise<void> {
    const text = JSON.stringify(data ?? null)
    if (filter) return this.#enqueue(() => this.#deliverCustom(topic, text, filter))
    await this.deps.bus.publish(CUSTOM_TOPIC, JSON.stringify({ topic, data: text }))
  }

  /** Stops following changes and ends every stream cleanly (the SDKs reconnect elsewhere). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#forwarder.close()
    for (const stop of this.#stops.splice(0)) await Promise.resolve(stop()).catch(() => undefined)
    for (const client of [...this.#clients.values()]) client.close('shutdown')
  }

  #closedClient(client: RealtimeClient, reason: CloseReason): void {
    if (this.#clients.get(client.id) === client) {
      this.#clients.delete(client.id)
      this.#interested -= interest(client)
      this.deps.metrics.realtimeClients.dec()
    }
    if (reason === 'overflow') {
      this.deps.metrics.realtimeDropped.inc()
      this.deps.log.warn({ clientId: client.id }, 'realtime: a client fell too far behind and was disconnected')
    }
  }

  /** Runs `fn` after everything enqueued before it; drops (and logs) past `MAX_PENDING`. */
  #enqueue(fn: () => Promise<void>): Promise<void> {
    if (this.#pending >= MAX_PENDING) {
      this.deps.log.error({}, 'realtime: too many messages waiting; one was dropped')
      return Promise.resolve()
    }
    this.#pending++
    const run = this.#chain.then(fn).catch((err: unknown) => this.deps.log.error({ err }, 'realtime: a message could not be delivered'))
    this.#chain = run.finally(() => this.#pending--)
    return this.#chain
  }

  /**
   * After a commit: one bus message for the whole unit of work, in commit order. Nothing when the
   * bus stays in this process and no client here has a subscription or an auth: nobody anywhere
   * could receive it, so it is not even serialised.
   */
  #publishChanges(changes: readonly RecordChange[]): void {
    if (this.#interested === 0 && !this.deps.bus.reachesOtherNodes) return
    const wire: WireChange[] = changes.map((ch) => ({ a: ch.action, c: ch.collection.id, r: withoutPassword(ch.record) }))
    this.deps.bus.publish(RECORDS_TOPIC, JSON.stringify(wire)).catch((err: unknown) =>
      this.deps.log.warn({ err }, 'realtime: could not publish committed changes; subscribers miss them'),
    )
  }

  async #onRecords(message: string): Promise<void> {
    const changes = JSON.parse(message) as WireChange[]
    for (const ch of changes) {
      const c = this.deps.registry.get(ch.c)
      if (!c) continue
      if (isAuthCollection(c) && ch.a !== 'create') this.#authChanged(c, ch.a, ch.r)
      await this.#broadcast(c, ch.a, ch.r)
    }
  }

  /**
   * A changed auth record: its clients now act as the new record; a deleted one, or one whose
   * tokenKey changed (its tokens are revoked), ends their streams.
   */
  #authChanged(c: Collection, action: RecordAction, record: RecordJson): void {
    // One new object per old one, so clients that shared an auth still do (see `#authKey`).
    const refreshed = new Map<AuthInfo, AuthInfo>()
    for (const client of [...this.#clients.values()]) {
      const auth = client.auth
      if (!auth || auth.collection.id !== c.id || auth.record.id !== record.id) continue
      if (action === 'delete' || auth.record.tokenKey !== record.tokenKey) {
        client.close('auth')
        continue
      }
      let info = refreshed.get(auth)
      if (!info) refreshed.set(auth, (info = Object.freeze({ collection: c, record: Object.freeze({ ...auth.record, ...record }), isSuperuser: auth.isSuperuser })))
      // An auth for an auth: the client's interest (#interested) is unchanged.
      client.auth = info
    }
  }

  /**
   * One record event to every client subscribed to it here, each checked with its own auth: the
   * checks that need SQL are asked together (`visibleTo`), then each passing group gets the record
   * as it may see it.
   */
  async #broadcast(c: Collection, action: RecordAction, record: RecordJson): Promise<void> {
    // By name and by id (a Map: the two are one topic when a collection's id is its name).
    const topics = new Map<string, 'listRule' | 'viewRule'>([
      [`${c.name}/*`, 'listRule'],
      [`${c.id}/*`, 'listRule'],
      [`${c.name}/${record.id}`, 'viewRule'],
      [`${c.id}/${record.id}`, 'viewRule'],
      // PocketBase's deprecated form of `NAME/*`, still served there.
      [c.name, 'listRule'],
      [c.id, 'listRule'],
    ])
    // Clients that ask the same question (the same auth object, rule and subscription with its
    // options) share one answer: a thousand guests on `posts/*` cost one check.
    const groups = new Map<string, { check: Check; clients: RealtimeClient[] }>()
    for (const client of this.#clients.values()) {
      if (client.subscriptions.size === 0) continue
      for (const [topic, ruleName] of topics) {
        for (const sub of client.subscribedTo(topic)) {
          const key = `${this.#authKey(client.auth)}\n${sub.key}`
          let group = groups.get(key)
          if (!group) {
            const request: RequestInfo = { auth: client.auth, method: 'GET', headers: sub.headers, query: sub.query, body: {}, context: 'realtime' }
            groups.set(key, (group = { check: { rule: c[ruleName], request, sub }, clients: [] }))
          }
          group.clients.push(client)
        }
      }
    }
    if (groups.size === 0) return
    const list = [...groups.values()]
    let seen: boolean[]
    try {
      seen = await visibleTo(this.deps, c, record, list.map((g) => g.check))
    } catch (err) {
      this.deps.log.warn({ err, collection: c.name }, 'realtime: the subscription checks of an event failed; it was not sent')
      return
    }
    // What a client receives depends on its auth (hidden fields, emails), its headers and query
    // (rules of expanded relations and the manageRule may read them), `expand` and `fields`, but
    // not on its filter: groups that differ only there share one payload.
    const prepared = new Map<string, Promise<string | undefined>>()
    const payloads = await Promise.all(
      list.map((g, i) => {
        if (!seen[i]) return undefined
        const { request, sub } = g.check
        const key = `${this.#authKey(request.auth)}\n${JSON.stringify(sub.headers)}\n${JSON.stringify({ ...sub.query, filter: undefined })}`
        let payload = prepared.get(key)
        if (!payload) {
          payload = presentTo(this.deps, c, record, request, sub).then(
            (visible) => JSON.stringify({ action, record: visible }),
            (err: unknown) => {
              this.deps.log.warn({ err, collection: c.name }, 'realtime: an event could not be prepared for a subscription; it was not sent to it')
              return undefined
            },
          )
          prepared.set(key, payload)
        }
        return payload
      }),
    )
    for (const [i, g] of list.entries()) {
      const data = payloads[i]
      if (data !== undefined) for (const client of g.clients) await this.send(client, { name: g.check.sub.key, data })
    }
  }

  /** A key per auth object (guests share ''): clients signed in with one token share theirs. */
  #authKey(auth: AuthInfo | null): string {
    if (!auth) return ''
    let key = this.#authKeys.get(auth)
    if (key === undefined) this.#authKeys.set(auth, (key = String(++this.#authSeq)))
    return key
  }

  async #onCustom(message: string): Promise<void> {
    const { topic, data } = JSON.parse(message) as { topic: string; data: string }
    await this.#deliverCustom(topic, data)
  }

  async #deliverCustom(topic: string, data: string, filter?: ClientFilter): Promise<void> {
    for (const client of [...this.#clients.values()]) {
      if (filter && !filter(client)) continue
      for (const sub of client.subscribedTo(topic)) await this.send(client, { name: sub.key, data })
    }
  }
}

/** 1 when a record change may concern `client` (it subscribes to something or is signed in), else 0. */
function interest(client: RealtimeClient): number {
  return client.subscriptions.size > 0 || client.auth !== null ? 1 : 0
}
