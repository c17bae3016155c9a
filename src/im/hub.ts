import type { IncomingMessage } from 'node:http'
import type { WebSocket } from 'ws'
import { AUTH_CHANGED_TOPIC } from '../auth/auth-cache.ts'
import type { Bus } from '../bus/bus.ts'
import type { Counters } from '../counters/counters.ts'
import type { FileStore } from '../files/files.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { Logger } from '../log.ts'
import type { AuthInfo } from '../records/record.ts'
import { randomString } from '../records/fields/random.ts'
import type { ImConfig } from '../config/im.ts'
import { ImConnection } from './connection.ts'
import { handleFrame, resume } from './frames.ts'
import { ImHooks } from './hooks.ts'
import { CLOSE, isFrameError, parseFrame, type MessageOut, type ServerFrame } from './protocol.ts'
import type { Member, ImStore } from './store.ts'

/** The bus topic every node hears: messages and frames for users, presence. */
export const IM_TOPIC = 'im.events'
/** How long a node that lost a user's last connection waits for other nodes to say they still have one. */
const OFFLINE_GRACE_MS = 300
/** Members cached per conversation for typing and receipts (messages read them fresh in their transaction). */
const MEMBERS_TTL_MS = 5_000
const MAX_CACHED_CONVERSATIONS = 10_000
/** Sockets not yet authenticated on one node; past it new ones are refused (1013) until some authenticate or time out. */
const MAX_PENDING = 5_000
/** Users one connection may watch for presence. */
export const MAX_WATCHED = 1000

type BusEvent =
  | { k: 'm'; to: string[]; m: MessageOut }
  | { k: 'f'; to: string[]; f: ServerFrame }
  | { k: 'p'; u: string; on: boolean }
  | { k: 'g'; u: string }

/** A verified token: who, and until when (seconds since the epoch). */
export type VerifyToken = (token: string) => Promise<{ auth: AuthInfo; exp: number } | null>

export interface ImDeps {
  config: ImConfig
  /** Files named by image and file messages are checked there. */
  files: Pick<FileStore, 'stat'>
  registry: Pick<CollectionRegistry, 'get'>
  store: ImStore
  bus: Bus
  counters: Counters
  log: Logger
  verifyToken: VerifyToken
}

export const presenceKey = (user: string) => `im:presence:${user}`

/**
 * IM on one node: its WebSocket connections by user, fan-out through the bus (every node hears
 * every event and delivers to its own connections), presence in the counters port (a key per
 * online user, refreshed by each node's heartbeat, expiring when a node dies), and the hooks.
 * The bus only says "deliver this": the messages are in SQL first, and a client that missed
 * something (a lost bus message, a dead node) gets it from SQL on its next catch-up or resume.
 */
export class Im {
  readonly hooks = new ImHooks()
  readonly nodeId = randomString(8)
  readonly #byUser = new Map<string, Set<ImConnection>>()
  readonly #watchers = new Map<string, Set<ImConnection>>()
  /** The presence last told to this node's watchers of each user, to notice a key that expired (a dead node). */
  readonly #told = new Map<string, boolean>()
  readonly #members = new Map<string, { at: number; members: Member[] }>()
  #pending = new Set<ImConnection>()
  #stops: (() => Promise<void> | void)[] = []
  #closed = false

  private constructor(readonly deps: ImDeps) {}

  static async start(deps: ImDeps): Promise<Im> {
    const im = new Im(deps)
    im.#stops.push(await deps.bus.subscribe(IM_TOPIC, (m) => im.#onBus(m)))
    im.#stops.push(await deps.bus.subscribe(AUTH_CHANGED_TOPIC, (m) => im.#onAuthChanged(m)))
    const timer = setInterval(() => im.#heartbeat(), deps.config.heartbeatSeconds * 1000)
    timer.unref()
    im.#stops.push(() => clearInterval(timer))
    return im
  }

  get store(): ImStore {
    return this.deps.store
  }

  /** Connections on this node (authenticated or not yet). */
  get size(): number {
    let n = this.#pending.size
    for (const set of this.#byUser.values()) n += set.size
    return n
  }

  /** Whether `user` has a connection on any node (their presence key is alive). */
  async online(user: string): Promise<boolean> {
    return (await this.deps.counters.get(presenceKey(user))) !== null
  }

  /** Takes a socket just upgraded; `token` when the client sent it as a subprotocol. */
  attach(ws: WebSocket, _req: IncomingMessage, token?: string): void {
    const { config } = this.deps
    const conn = new ImConnection(ws, {
      maxQueueBytes: config.maxQueueBytes,
      connectionRate: config.connectionRate,
      resumeLimit: config.resumeLimit,
      read: (c, after, limit) => this.deps.store.after(c, after, limit),
      lastSeq: async (c) => (await this.deps.store.conversation(c))?.lastSeq ?? 0,
    })
    if (this.#closed) return conn.close(CLOSE.tryAgain, 'shutting down')
    if (this.#pending.size >= MAX_PENDING) return conn.close(CLOSE.tryAgain, 'too many connections waiting to authenticate')
    this.#pending.add(conn)
    const timer = setTimeout(() => {
      if (!conn.auth) conn.close(CLOSE.unauthorized, 'authentication timeout')
    }, config.authTimeout)
    timer.unref()
    ws.on('pong', () => (conn.alive = true))
    ws.on('close', () => {
      clearTimeout(timer)
      conn.closed = true
      this.#removed(conn)
    })
    ws.on('error', () => conn.close(CLOSE.policy, 'error'))
    // Frames of one connection are handled one after the other, in order.
    let chain: Promise<void> = Promise.resolve()
    let queued = 0
    ws.on('message', (data, isBinary) => {
      conn.alive = true
      if (isBinary) return conn.close(CLOSE.policy, 'text frames only')
      if (!conn.allowFrame()) return conn.close(CLOSE.flood, 'too many frames')
      // A client that keeps sending while its frames wait is a flood too.
      if (++queued > 100) return conn.close(CLOSE.flood, 'too many frames waiting')
      const text = data.toString()
      chain = chain
        .then(() => this.#frame(conn, text))
        .catch((err: unknown) => this.deps.log.error({ err }, 'im: a frame failed'))
        .finally(() => queued--)
    })
    if (token) chain = chain.then(() => this.#authenticate(conn, token))
  }

  async #frame(conn: ImConnection, text: string): Promise<void> {
    if (conn.closed) return
    const frame = parseFrame(text)
    if (isFrameError(frame)) {
      conn.send({ type: 'error', ...frame })
      return
    }
    if (frame.type === 'auth') {
      if (conn.auth) conn.send({ type: 'error', ref: frame.ref, status: 400, message: 'Already authenticated.', data: {} })
      else await this.#authenticate(conn, frame.token, frame.ref)
      if (conn.auth && frame.conversations) {
        try {
          await resume(this, conn, { ref: frame.ref, conversations: frame.conversations })
        } finally {
          conn.startLive()
        }
      }
      return
    }
    if (!conn.auth) return conn.close(CLOSE.unauthorized, 'authenticate first')
    await handleFrame(this, conn, frame)
  }

  async #authenticate(conn: ImConnection, token: string, ref?: string): Promise<void> {
    let verified: Awaited<ReturnType<VerifyToken>>
    try {
      verified = await this.deps.verifyToken(token)
    } catch (err) {
      this.deps.log.warn({ err }, 'im: a token could not be checked')
      return conn.close(CLOSE.tryAgain, 'try again later')
    }
    if (!verified || verified.auth.isSuperuser) {
      conn.send({ type: 'error', ref, status: 401, message: 'The request requires valid record authorization token.', data: {} })
      return conn.close(CLOSE.unauthorized, 'invalid token')
    }
    if (conn.closed) return
    conn.auth = verified.auth
    conn.exp = verified.exp
    conn.token = token
    conn.user = verified.auth.record.id
    this.#pending.delete(conn)
    let set = this.#byUser.get(conn.user)
    const first = !set
    if (!set) this.#byUser.set(conn.user, (set = new Set()))
    set.add(conn)
    conn.send({ type: 'ready', user: conn.user, collection: verified.auth.collection.name, node: this.nodeId })
    if (first) await this.#markOnline(conn.user)
  }

  #removed(conn: ImConnection): void {
    this.#pending.delete(conn)
    if (conn.watching) for (const u of conn.watching) this.#unwatch(conn, u)
    const set = conn.user ? this.#byUser.get(conn.user) : undefined
    if (!set?.delete(conn) || set.size > 0) return
    this.#byUser.delete(conn.user)
    void this.#markMaybeOffline(conn.user)
  }

  async #markOnline(user: string): Promise<void> {
    const ttl = this.deps.config.heartbeatSeconds * 2000 + 1000
    await this.deps.counters.raise(presenceKey(user), Date.now(), ttl).catch(() => undefined)
    await this.publish({ k: 'p', u: user, on: true })
  }

  /** The last connection of `user` here closed: offline unless another node still has one. */
  async #markMaybeOffline(user: string): Promise<void> {
    await this.deps.counters.delete(presenceKey(user)).catch(() => undefined)
    await this.publish({ k: 'g', u: user })
    await new Promise((r) => setTimeout(r, OFFLINE_GRACE_MS).unref())
    if (this.#byUser.has(user) || (await this.online(user).catch(() => false))) return
    await this.publish({ k: 'p', u: user, on: false })
  }

  watch(conn: ImConnection, user: string): boolean {
    const watching = (conn.watching ??= new Set())
    if (watching.has(user)) return true
    if (watching.size >= MAX_WATCHED) return false
    watching.add(user)
    let set = this.#watchers.get(user)
    if (!set) this.#watchers.set(user, (set = new Set()))
    set.add(conn)
    return true
  }

  #unwatch(conn: ImConnection, user: string): void {
    const set = this.#watchers.get(user)
    set?.delete(conn)
    if (set?.size === 0) {
      this.#watchers.delete(user)
      this.#told.delete(user)
    }
  }

  /** Records what watchers of `user` were told (a presence answer or change). */
  told(user: string, online: boolean): void {
    if (this.#watchers.has(user)) this.#told.set(user, online)
  }

  /**
   * Tells watchers of users whose presence changed without a word: a node that died takes its
   * users' keys with it only when they expire, and nobody publishes that. Once per heartbeat.
   */
  async #sweepPresence(): Promise<void> {
    for (const user of [...this.#watchers.keys()]) {
      const online = await this.online(user).catch(() => undefined)
      if (online === undefined || this.#told.get(user) === online) continue
      this.#told.set(user, online)
      for (const c of this.#watchers.get(user) ?? []) c.send({ type: 'presence', users: { [user]: online } })
    }
  }

  /** Members of a conversation, cached a few seconds (typing, receipts). */
  async members(conversation: string): Promise<Member[]> {
    const now = Date.now()
    const hit = this.#members.get(conversation)
    if (hit && now - hit.at < MEMBERS_TTL_MS) return hit.members
    const members = await this.deps.store.members(conversation)
    if (this.#members.size >= MAX_CACHED_CONVERSATIONS) this.#members.clear()
    this.#members.set(conversation, { at: now, members })
    return members
  }

  /** Forgets a conversation's cached members (after a change made on this node). */
  forgetMembers(conversation: string): void {
    this.#members.delete(conversation)
  }

  async publish(event: BusEvent): Promise<void> {
    await this.deps.bus.publish(IM_TOPIC, JSON.stringify(event)).catch((err: unknown) => {
      // While stopping, the presence of the users this node drops may find the bus already closed.
      if (!this.#closed) this.deps.log.warn({ err }, 'im: could not publish an event; clients get messages on their next catch-up')
    })
  }

  /** Sends `frame` to every connection of `users`, on every node. */
  sendTo(users: string[], frame: ServerFrame): Promise<void> {
    return this.publish({ k: 'f', to: users, f: frame })
  }

  /** Hands a stored message to every node for its members' connections. */
  deliver(users: string[], message: MessageOut): Promise<void> {
    return this.publish({ k: 'm', to: users, m: message })
  }

  #onBus(text: string): void {
    const e = JSON.parse(text) as BusEvent
    switch (e.k) {
      case 'm':
        for (const u of e.to) for (const c of this.#byUser.get(u) ?? []) c.deliver(e.m)
        return
      case 'f':
        for (const u of e.to) for (const c of this.#byUser.get(u) ?? []) c.send(e.f)
        return
      case 'p':
        this.told(e.u, e.on)
        for (const c of this.#watchers.get(e.u) ?? []) c.send({ type: 'presence', users: { [e.u]: e.on } })
        return
      case 'g':
        // Another node lost this user's last connection there: still online through this one.
        if (this.#byUser.has(e.u)) void this.deps.counters.raise(presenceKey(e.u), Date.now(), this.deps.config.heartbeatSeconds * 2000 + 1000).catch(() => undefined)
        return
    }
  }

  /** An auth record changed (any node): its connections whose token no longer verifies are closed. */
  #onAuthChanged(message: string): void {
    const id = message.slice(message.indexOf('/') + 1)
    for (const conn of [...(this.#byUser.get(id) ?? [])]) {
      this.deps.verifyToken(conn.token).then(
        (v) => {
          if (!v || v.auth.record.id !== conn.user) conn.close(CLOSE.revoked, 'token revoked')
          else conn.auth = v.auth
        },
        (err: unknown) => this.deps.log.warn({ err }, 'im: could not re-check a token'),
      )
    }
  }

  /** Pings every socket (cutting those that missed the last one), closes expired tokens, refreshes presence. */
  #heartbeat(): void {
    const now = Date.now() / 1000
    const ttl = this.deps.config.heartbeatSeconds * 2000 + 1000
    for (const [user, set] of this.#byUser) {
      for (const conn of set) {
        if (conn.exp && conn.exp < now) {
          conn.close(CLOSE.unauthorized, 'token expired')
          continue
        }
        if (!conn.alive) {
          conn.ws.terminate()
          continue
        }
        conn.alive = false
        conn.ws.ping()
      }
      void this.deps.counters.raise(presenceKey(user), Date.now(), ttl).catch(() => undefined)
    }
    void this.#sweepPresence()
  }

  /** Closes every connection (clients reconnect to another node and resume) and stops listening. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const stop of this.#stops.splice(0)) await Promise.resolve(stop()).catch(() => undefined)
    for (const conn of this.#pending) conn.close(CLOSE.goingAway, 'shutting down')
    for (const set of this.#byUser.values()) for (const conn of set) conn.close(CLOSE.goingAway, 'shutting down')
  }
}
