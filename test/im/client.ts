/** A small WebSocket client for IM tests: frames in order, wait for one matching a predicate. */
import WebSocket from 'ws'

export type Frame = Record<string, unknown> & { type: string }

export class ImClient {
  readonly frames: Frame[] = []
  #waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = []
  closed: Promise<{ code: number; reason: string }>
  #opened: Promise<void>

  constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    this.#opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    })
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame
      this.frames.push(f)
      const i = this.#waiters.findIndex((w) => w.pred(f))
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(f)
    })
  }

  /**
   * Opens a socket; with a token, authenticates and (unless `hold`) starts live delivery with an
   * empty resume. With `hold` the caller sends its own `resume` first.
   */
  static async open(base: string, opts: { token?: string; origin?: string; protocolToken?: string; hold?: boolean } = {}): Promise<ImClient> {
    const url = base.replace(/^http/, 'ws') + '/api/plinth/im'
    const protocols = opts.protocolToken ? ['plinth-im', opts.protocolToken] : undefined
    const ws = new WebSocket(url, protocols, opts.origin ? { origin: opts.origin } : {})
    const c = new ImClient(ws)
    await c.#opened
    if (opts.token) {
      c.send({ type: 'auth', token: opts.token, ...(opts.hold ? {} : { conversations: {} }) })
      await c.next((f) => f.type === 'ready')
      if (!opts.hold) await c.next((f) => f.type === 'resumed')
    } else if (opts.protocolToken) {
      await c.next((f) => f.type === 'ready')
      if (!opts.hold) await c.request({ type: 'resume', conversations: {} })
    }
    return c
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame))
  }

  /** The first frame (already received or coming) matching `pred`, consumed from nothing: frames stay in `frames`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(pred)
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1)
      return Promise.resolve(seen)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs)
      this.#waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer)
          this.frames.splice(this.frames.indexOf(f), 1)
          resolve(f)
        },
      })
    })
  }

  /** Sends a request frame with a fresh `ref` and waits for the answer with that ref. */
  async request(frame: Record<string, unknown>): Promise<Frame> {
    const ref = Math.random().toString(36).slice(2)
    const answer = this.next((f) => f.ref === ref)
    this.send({ ...frame, ref })
    return answer
  }

  /** Messages received so far for `conversation`, in arrival order (consumed). */
  takeMessages(conversation: string): Frame[] {
    const out = this.frames.filter((f) => f.type === 'message' && f.conversation === conversation)
    for (const f of out) this.frames.splice(this.frames.indexOf(f), 1)
    return out
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close()
    return this.closed
  }
}
