import type { WebSocket } from 'ws'
import type { AuthInfo } from '../records/record.ts'
import { CLOSE, type MessageOut, type ServerFrame } from './protocol.ts'

/** Live messages held for one conversation while it catches up from SQL; past it the client is too slow. */
const MAX_BUFFERED = 10_000
/** Catch-up rounds for holes found in live messages (each one SQL read); then what is there is sent. */
const MAX_ROUNDS = 3

export interface ConnectionOptions {
  maxQueueBytes: number
  connectionRate: number
  resumeLimit: number
  /** Messages of a conversation after a seq, in order, at most `limit` (from the primary). */
  read(conversation: string, afterSeq: number, limit: number): Promise<MessageOut[]>
  /** The conversation's last seq now. */
  lastSeq(conversation: string): Promise<number>
}

/**
 * One WebSocket of `/api/plinth/im`: who it is, what it was sent, and its limits.
 *
 * Messages reach a client in seq order per conversation with no duplicates: `lastSent` is the
 * last seq sent per conversation; a live message at or below it is dropped, one past the next
 * seq (a bus message lost, or two nodes' messages crossing) makes the conversation catch up from
 * SQL first. While a conversation catches up (resume or a hole), its live messages are buffered
 * and sent afterwards, dropping those the catch-up already sent: SQL then live, no race.
 */
export class ImConnection {
  auth: AuthInfo | null = null
  user = ''
  token = ''
  /** When the token expires (seconds since the epoch); checked by the heartbeat. */
  exp = 0
  /** A pong (or any frame) came since the last heartbeat. */
  alive = true
  closed = false
  #windowStart = 0
  #frames = 0
  /** The last seq sent per conversation. */
  readonly lastSent = new Map<string, number>()
  /** Where live delivery started per conversation (before a resume). */
  #liveFrom: Map<string, number> | undefined
  #catching: Map<string, MessageOut[]> | undefined
  /**
   * Live messages held until the client's first `resume` (which may name no conversation): what
   * a reconnecting client missed must come before what happens now, so nothing live is sent
   * before the catch-up knows where each conversation stands.
   */
  #held: MessageOut[] | undefined = []
  /** Users whose presence changes this connection is told about. */
  watching: Set<string> | undefined

  constructor(
    readonly ws: WebSocket,
    private readonly opts: ConnectionOptions,
  ) {}

  /** Sends one frame unless the client is too far behind (then it is closed): false when not sent. */
  send(frame: ServerFrame): boolean {
    if (this.closed) return false
    if (this.ws.bufferedAmount > this.opts.maxQueueBytes) {
      this.close(CLOSE.slow, 'too slow')
      return false
    }
    this.ws.send(JSON.stringify(frame))
    return true
  }

  close(code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    try {
      this.ws.close(code, reason)
    } catch {
      this.ws.terminate()
    }
    // A peer that never answers the close handshake is cut.
    setTimeout(() => this.ws.terminate(), 2_000).unref()
  }

  /** Counts a frame against the per-connection rate (a fixed one-second window): false past it. */
  allowFrame(now = Date.now()): boolean {
    if (this.opts.connectionRate === 0) return true
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now
      this.#frames = 0
    }
    return ++this.#frames <= this.opts.connectionRate
  }

  /** Whether live messages flow (the first `resume` was handled). */
  get live(): boolean {
    return this.#held === undefined
  }

  /** Ends the hold: what came while holding is delivered (dropping what a resume already sent). */
  startLive(): void {
    const held = this.#held
    if (!held) return
    this.#held = undefined
    for (const m of held) this.deliver(m)
  }

  /** A live message of one of this user's conversations. */
  deliver(m: MessageOut): void {
    if (this.#held) {
      if (this.#held.length >= MAX_BUFFERED) this.close(CLOSE.slow, 'too slow')
      else this.#held.push(m)
      return
    }
    const buffered = this.#catching?.get(m.conversation)
    if (buffered) {
      if (buffered.length >= MAX_BUFFERED) this.close(CLOSE.slow, 'too slow')
      else buffered.push(m)
      return
    }
    const last = this.lastSent.get(m.conversation)
    if (last !== undefined && m.seq <= last) return
    if (last !== undefined && m.seq > last + 1) {
      void this.catchUp(m.conversation, [m])
      return
    }
    if (last === undefined) (this.#liveFrom ??= new Map()).set(m.conversation, m.seq)
    this.#emit(m)
  }

  #emit(m: MessageOut): void {
    this.lastSent.set(m.conversation, m.seq)
    this.send({ type: 'message', ...m })
  }

  /**
   * Resumes one conversation from the client's `lastSeq`: what it missed from SQL, then the live
   * messages that came meanwhile. Messages this connection already sent live before the resume
   * are not sent twice.
   */
  async resume(conversation: string, clientSeq: number): Promise<number> {
    const liveFrom = this.#liveFrom?.get(conversation)
    const sentTo = this.lastSent.get(conversation)
    const skip = liveFrom !== undefined && sentTo !== undefined && sentTo > clientSeq ? { from: liveFrom, to: sentTo } : undefined
    this.#liveFrom?.delete(conversation)
    if (this.#catching?.has(conversation)) return sentTo ?? clientSeq
    this.lastSent.set(conversation, clientSeq)
    await this.catchUp(conversation, [], skip)
    return this.lastSent.get(conversation) ?? clientSeq
  }

  /** Sends what SQL has after `lastSent`, then `pending` and whatever came live meanwhile, in order. */
  async catchUp(conversation: string, pending: MessageOut[], skip?: { from: number; to: number }): Promise<void> {
    const catching = (this.#catching ??= new Map())
    const existing = catching.get(conversation)
    if (existing) {
      existing.push(...pending)
      return
    }
    const buffer = [...pending]
    catching.set(conversation, buffer)
    try {
      for (let round = 0; round < MAX_ROUNDS && !this.closed; round++) {
        const from = this.lastSent.get(conversation) ?? 0
        const rows = await this.opts.read(conversation, from, this.opts.resumeLimit)
        for (const m of rows) this.#emitOnce(m, skip)
        if (rows.length === this.opts.resumeLimit) {
          // More than one catch-up may send: the client reads the rest over REST.
          const to = await this.opts.lastSeq(conversation)
          const last = this.lastSent.get(conversation) ?? 0
          if (to > last) {
            this.send({ type: 'gap', conversation, from: last + 1, to })
            this.lastSent.set(conversation, to)
          }
        }
        buffer.sort((a, b) => a.seq - b.seq)
        const last = this.lastSent.get(conversation) ?? 0
        const next = buffer.find((m) => m.seq > last)
        // A hole between what was sent and the first buffered message: read SQL again.
        if (next && next.seq > last + 1 && round < MAX_ROUNDS - 1) continue
        break
      }
      // What came live meanwhile (buffer may grow while this runs: no await below).
      buffer.sort((a, b) => a.seq - b.seq)
      for (const m of buffer) this.#emitOnce(m, skip)
    } finally {
      catching.delete(conversation)
    }
  }

  #emitOnce(m: MessageOut, skip?: { from: number; to: number }): void {
    const last = this.lastSent.get(m.conversation) ?? 0
    if (m.seq <= last) return
    if (skip && m.seq >= skip.from && m.seq <= skip.to) {
      this.lastSent.set(m.conversation, m.seq)
      return
    }
    this.#emit(m)
  }
}
