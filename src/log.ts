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
