import { CompiledQuery } from 'kysely'
import type { Logger } from '../log.ts'
import { generateRecordId } from '../records/fields/random.ts'
import { toDbDate } from '../records/model.ts'
import { LOGS_TABLE, type LogsDb } from './logs-db.ts'

/** One log entry as PocketBase stores it: slog's level, a message, and its attributes. */
export interface LogEntry {
  level: number
  message: string
  data: Record<string, unknown>
}

/** PocketBase's cap on a log's message and on its data's JSON (`defaultMaxLogDataSize`, 16 KiB). */
export const MAX_LOG_DATA = 16 << 10

export interface LogWriterOptions {
  /** How often buffered entries are written, in ms. */
  flushMs?: number
  /** Entries per INSERT; a full batch is written without waiting for the timer. */
  batchSize?: number
  /** Entries held while the database is slow or away; past it new ones are dropped (and counted). */
  maxBuffered?: number
}

/**
 * Writes log entries in batches, off the request path: `add` only appends to a bounded buffer,
 * a timer (or a full batch) writes it with multi-row INSERTs. A failed write drops that batch with
 * one warning a minute: request logs must never slow or fail requests, nor fill the memory.
 */
export class LogWriter {
  #buffer: { id: string; created: string; level: number; message: string; data: string }[] = []
  #flushing: Promise<void> | undefined
  #dropped = 0
  #warnedAt = 0
  #closed = false
  readonly #timer: NodeJS.Timeout
  readonly #batchSize: number
  readonly #maxBuffered: number
  /** The INSERT text per row count, compiled once (the query builder costs more than the insert). */
  readonly #insertSql = new Map<number, string>()

  constructor(
    private readonly logs: LogsDb,
    private readonly log: Pick<Logger, 'warn'>,
    opts: LogWriterOptions = {},
  ) {
    this.#batchSize = opts.batchSize ?? 200
    this.#maxBuffered = opts.maxBuffered ?? 10_000
    this.#timer = setInterval(() => void this.flush(), opts.flushMs ?? 1000)
    // NB: the timer must not keep a finished process alive.
    this.#timer.unref()
  }

  add(entry: LogEntry): void {
    if (this.#closed) return
    if (this.#buffer.length >= this.#maxBuffered) {
      this.#dropped++
      return
    }
    let data = JSON.stringify(entry.data)
    if (data.length > MAX_LOG_DATA) data = JSON.stringify({ type: entry.data.type, __pb_truncated__: true })
    const message = entry.message.length > MAX_LOG_DATA ? entry.message.slice(0, MAX_LOG_DATA) : entry.message
    this.#buffer.push({ id: generateRecordId(), created: toDbDate(new Date()), level: entry.level, message, data })
    if (this.#buffer.length >= this.#batchSize) setImmediate(() => void this.flush())
  }

  /** Writes what is buffered now; resolves when written (or dropped). One flush at a time. */
  flush(): Promise<void> {
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  async #write(): Promise<void> {
    while (this.#buffer.length) {
      const batch = this.#buffer.splice(0, this.#batchSize)
      try {
        const params = batch.flatMap((r) => [r.id, r.created, r.level, r.message, r.data])
        await this.logs.engine.db.executeQuery(CompiledQuery.raw(this.#insert(batch.length), params))
      } catch (err) {
        this.#dropped += batch.length
        this.#warn(err)
      }
    }
  }

  /** A multi-row INSERT with the engine's own placeholders (`$1`.. or `?`), compiled once per row count. */
  #insert(rows: number): string {
    let text = this.#insertSql.get(rows)
    if (!text) {
      const blank = { id: '', created: '', level: 0, message: '', data: '' }
      text = this.logs.engine.db.insertInto(LOGS_TABLE).values(Array.from({ length: rows }, () => blank)).compile().sql
      this.#insertSql.set(rows, text)
    }
    return text
  }

  #warn(err: unknown): void {
    if (Date.now() - this.#warnedAt < 60_000) return
    this.#warnedAt = Date.now()
    this.log.warn({ err: (err as Error).message, dropped: this.#dropped }, 'logs: request logs could not be written and were dropped')
  }

  /** Entries dropped since start (buffer full or database errors). */
  get dropped(): number {
    return this.#dropped
  }

  /** Deletes the entries created before `cutoff` (PocketBase's `DeleteOldLogs`). */
  async deleteBefore(cutoff: Date): Promise<void> {
    await this.logs.engine.db.deleteFrom(LOGS_TABLE).where('created', '<', toDbDate(cutoff)).execute()
  }

  /** Writes the rest and stops; later entries are ignored. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    await this.flush()
  }
}
