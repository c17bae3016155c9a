import { createRequire } from 'node:module'
import { pino, type Logger } from 'pino'
import type { PlinthConfig } from './config/schema.ts'

export type { Logger }

/** What a logger needs from the configuration; no `logFormat` means JSON. */
export type LogSettings = Pick<PlinthConfig, 'logLevel'> & Partial<Pick<PlinthConfig, 'logFormat'>>

/**
 * Characters of log lines held before they go to stdout as one write (libuv's thread pool does
 * the write; the event loop never waits for it): under load one write carries dozens of lines.
 */
const BUFFER_CHARS = 4096
/** The longest a line waits in that buffer when traffic is too thin to fill it, in ms. */
const FLUSH_MS = 200

/** The `msg` of the one line each request logs (see `src/api/request-log.ts`). */
export const REQUEST_MSG = 'request'

/**
 * Structured logs (pino): one JSON object a line, or human-readable with `logFormat: 'pretty'`.
 * Fastify adds `reqId` to every line logged through `request.log`. Without a `destination`,
 * lines go to stdout asynchronously through a small buffer (see `endLog` for the exit path);
 * a given `destination` gets each line as it is logged.
 */
export function createLogger(config: LogSettings, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '****' },
  }
  const format = config.logFormat === 'pretty' ? prettyFormat(destination === undefined) : undefined
  if (!destination) return pino(options, new LineBuffer(pino.destination({ dest: 1, sync: false }), format))
  return pino(options, format ? { write: (line: string) => destination.write(format(line)) } : destination)
}

/** What `endLog` and `logger.flush` use of a destination, when it has them. */
type Sink = pino.DestinationStream & {
  flush?: (cb?: (err?: Error) => void) => void
  end?: () => void
  once?: (event: string, fn: () => void) => void
}

/** The buffers still open, so a process that exits without `endLog` writes them out first. */
const open = new Set<WeakRef<LineBuffer>>()
const forget = new FinalizationRegistry<WeakRef<LineBuffer>>((ref) => open.delete(ref))
let exitHooked = false

/**
 * Lines held in an array and handed to the asynchronous stdout stream (pino's SonicBoom) as one
 * string per `BUFFER_CHARS`, or after `FLUSH_MS`. NB: SonicBoom measures the byte length of its
 * whole pending buffer on every write; fed line by line under load that cost more than the rest
 * of logging a line (2.4 of 3.9 µs a line, measured), fed in batches it is noise.
 */
class LineBuffer implements Sink {
  private lines: string[] = []
  private chars = 0
  private timer: NodeJS.Timeout | undefined
  private ended = false
  private readonly ref = new WeakRef(this)

  constructor(
    private readonly out: ReturnType<typeof pino.destination>,
    private readonly format?: (line: string) => string,
  ) {
    open.add(this.ref)
    forget.register(this, this.ref)
    if (!exitHooked) {
      exitHooked = true
      // At exit nothing asynchronous runs any more: whatever is held goes out synchronously.
      process.on('exit', () => {
        for (const ref of open) ref.deref()?.flushSync()
      })
    }
  }

  write(line: string): void {
    const text = this.format ? this.format(line) : line
    this.lines.push(text)
    this.chars += text.length
    if (this.chars >= BUFFER_CHARS) this.release()
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.release(), FLUSH_MS)
      this.timer.unref()
    }
  }

  /** Hands the held lines to the stream, which writes them at once (or after the write in flight). */
  private release(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    if (this.lines.length === 0 || this.ended) return
    const text = this.lines.join('')
    this.lines = []
    this.chars = 0
    this.out.write(text)
  }

  flush(cb?: (err?: Error) => void): void {
    this.release()
    this.out.flush(cb)
  }

  flushSync(): void {
    if (this.ended) return
    this.release()
    this.out.flushSync()
  }

  /** Writes what is held, then ends the stream (its 'close' follows the last write); lines logged later are dropped. */
  end(): void {
    if (this.ended) return
    this.release()
    this.ended = true
    open.delete(this.ref)
    this.out.end()
  }

  once(event: string, fn: () => void): void {
    this.out.once(event, fn)
  }
}

/**
 * A JSON line formatted for people, in this thread (no worker: lines keep their order, and
 * `endLog` ends the stream itself). A request line reads `GET /api/health 200 0.41ms {"reqId":"..."}`.
 * pino-pretty is loaded only here, so a JSON server never pays for it at start-up.
 */
function prettyFormat(colorize: boolean): (line: string) => string {
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
  const pretty = prettyFactory({ singleLine: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', ...(colorize ? {} : { colorize: false }) })
  return (line) => {
    const log = JSON.parse(line) as Record<string, unknown>
    if (log.msg === REQUEST_MSG && typeof log.method === 'string') {
      const { method, url, status, ms } = log
      log.msg = `${method} ${String(url)} ${String(status)} ${String(ms)}ms`
      delete log.method
      delete log.url
      delete log.status
      delete log.ms
    }
    return pretty(log)
  }
}

/**
 * Writes out every log line still buffered, then calls `done`; for a process about to exit.
 * NB: pino's `flush(cb)` calls back at once while an asynchronous write is still in flight, and
 * the exit handler then writes the rest synchronously, so a line logged earlier could land after
 * later ones (seen as "stopped" before "stopping"). Ending the stream writes the buffer in order
 * and waits for that write; for stdout and stderr it does not close the descriptor. No line may
 * be logged after this.
 */
export function endLog(logger: Logger, done: () => void): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as Sink | undefined
  if (typeof stream?.end !== 'function' || typeof stream.once !== 'function') {
    logger.flush(() => done())
    return
  }
  stream.once('close', done)
  stream.end()
}
