import type { PlinthConfig } from '../config/schema.ts'
import type { Logger } from '../log.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { LogQuery } from './log-query.ts'
import { LogWriter, type LogEntry, type LogWriterOptions } from './log-writer.ts'
import { openLogsDb, type LogsDb } from './logs-db.ts'

/** PocketBase's `logs` settings, which decide what is written and kept. */
export interface LogsSettings {
  /** Days kept; 0 = no request logs at all. */
  maxDays: number
  /** Entries below this slog level are not written (-4 debug, 0 info, 4 warn, 8 error). */
  minLevel: number
  logIP: boolean
  logAuthId: boolean
}

/**
 * The request logs behind `/api/logs`: their database (logs-db.ts), the batching writer and the
 * reader, following the `logs` settings (`apply`, called by the settings store on every node).
 */
export class RequestLogs {
  settings: LogsSettings = { maxDays: 5, minLevel: 0, logIP: true, logAuthId: false }

  private constructor(
    private readonly logsDb: LogsDb,
    readonly writer: LogWriter,
    readonly query: LogQuery,
  ) {}

  static async open(config: Readonly<PlinthConfig>, main: SqlEngine, log: Pick<Logger, 'warn'>, opts?: LogWriterOptions): Promise<RequestLogs> {
    const db = await openLogsDb(config, main)
    return new RequestLogs(db, new LogWriter(db, log, opts), new LogQuery(db))
  }

  /** Where the logs are (`auxiliary.db`, `logs.url` or `db`). */
  get where(): string {
    return this.logsDb.where
  }

  apply(settings: LogsSettings): void {
    this.settings = { ...settings }
  }

  /** Buffers one entry, unless the settings keep no logs or its level is below `minLevel`. */
  add(entry: LogEntry): void {
    if (this.settings.maxDays <= 0 || entry.level < this.settings.minLevel) return
    this.writer.add(entry)
  }

  /** Deletes entries older than `maxDays` (all of them when it is 0, as PocketBase). */
  async cleanup(now = Date.now()): Promise<void> {
    await this.writer.deleteBefore(new Date(now - this.settings.maxDays * 86_400_000))
  }

  async close(): Promise<void> {
    await this.writer.close()
    await this.logsDb.close()
  }
}
