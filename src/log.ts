import { createRequire } from 'node:module'
import { pino, type Logger } from 'pino'
import type { PlinthConfig } from './config/schema.ts'

export type { Logger }

/** What a logger needs from the configuration; no `logFormat` means JSON. */
export type LogSettings = Pick<PlinthConfig, 'logLevel'> & Partial<Pick<PlinthConfig, 'logFormat'>>

/**
 * Bytes of log lines held before one write to stdout: under load, one write call (on libuv's
 * thread pool, never blocking the event loop) carries dozens of lines instead of one each.
 */
const BUFFER_BYTES = 4096
/** The longest a line waits in that buffer when traffic is too thin to fill it, in ms. */
const FLUSH_MS = 200

/** The `msg` of the one line each request logs (see `src/api/request-log.ts`). */
export const REQUEST_MSG = 'request'

/**
 * Structured logs (pino): one JSON object a line, or human-readable with `logFormat: 'pretty'`.
 * Fastify adds `reqId` to every line logged through `request.log`. Without a `destination`,
 * lines go to stdout asynchronously through a small buffer (see `endLog` for the exit path).
 */
export function createLogger(config: LogSettings, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '****' },
  }
  const out = destination ?? pino.destination({ dest: 1, sync: false, minLength: BUFFER_BYTES, periodicFlush: FLUSH_MS })
  return pino(options, config.logFormat === 'pretty' ? prettyStream(out, destination === undefined) : out)
}

/** The parts of a pino destination that `endLog` and `logger.flush` use, when it has them. */
type Sink = pino.DestinationStream & {
  flush?: (cb?: (err?: Error) => void) => void
  end?: () => void
  once?: (event: string, fn: () => void) => void
}

/**
 * Formats each JSON line for people before it reaches `out`, in this thread (no worker: lines
 * keep their order, and `endLog` ends `out` itself). A request line reads
 * `GET /api/health 200 0.41ms {"reqId":"..."}`. pino-pretty is loaded only here, so a JSON
 * server never pays for it at start-up.
 */
function prettyStream(out: Sink, colorize: boolean): Sink {
  const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
  const pretty = prettyFactory({ singleLine: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', ...(colorize ? {} : { colorize: false }) })
  return {
    write(line: string) {
      const log = JSON.parse(line) as Record<string, unknown>
      if (log.msg === REQUEST_MSG && typeof log.method === 'string') {
        const { method, url, status, ms } = log
        log.msg = `${method} ${String(url)} ${String(status)} ${String(ms)}ms`
        delete log.method
        delete log.url
        delete log.status
        delete log.ms
      }
      out.write(pretty(log))
    },
    flush: out.flush && ((cb) => out.flush!(cb)),
    end: out.end && (() => out.end!()),
    once: out.once && ((event, fn) => out.once!(event, fn)),
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
