import { pino, type Logger } from 'pino'
import type { PlinthConfig } from './config/schema.ts'

export type { Logger }

/**
 * Structured JSON logs (pino); human-readable when stdout is a terminal.
 * Fastify adds `reqId` to every line logged through `request.log`.
 */
export function createLogger(config: Pick<PlinthConfig, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '****' },
  }
  if (destination) return pino(options, destination)
  if (process.stdout.isTTY) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } })
  }
  return pino(options)
}

/**
 * Writes out every log line still buffered, then calls `done`; for a process about to exit.
 * NB: pino's `flush(cb)` calls back at once while an asynchronous write is still in flight, and
 * the exit handler then writes the rest synchronously, so a line logged earlier could land after
 * later ones (seen as "stopped" before "stopping"). Ending the stream waits for that write; for
 * stdout and stderr it does not close the descriptor.
 */
export function endLog(logger: Logger, done: () => void): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { end?: () => void; once?: (event: string, fn: () => void) => void }
    | undefined
  if (typeof stream?.end !== 'function' || typeof stream.once !== 'function') {
    logger.flush(() => done())
    return
  }
  stream.once('close', done)
  stream.end()
}
