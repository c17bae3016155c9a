/**
 * The SQL failures a request can meet that are the server's state, not the request's fault. Each
 * engine recognises its driver's errors and rethrows them as one of these (see `guard.ts`), so the
 * HTTP layer answers 503 without knowing any engine's error codes.
 */

/** A statement ran past `statementTimeout` and the database cancelled it. */
export class SqlTimeoutError extends Error {
  /** The driver's code (`57014`, `ER_STATEMENT_TIMEOUT`, ...), kept for logs. */
  readonly code: string | undefined
  constructor(message: string, cause: unknown) {
    super(message, { cause })
    this.name = 'SqlTimeoutError'
    this.code = (cause as { code?: string } | undefined)?.code
  }
}

/**
 * No connection could be had: none was free within `poolTimeout` (SQLite: the write lock was not),
 * or the database is down or refusing connections.
 */
export class SqlUnavailableError extends Error {
  readonly code: string | undefined
  constructor(message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'SqlUnavailableError'
    this.code = (cause as { code?: string } | undefined)?.code
  }
}

/** How an engine sorts a driver error: one of the two above, or anything else (left as it is). */
export type SqlErrorKind = 'timeout' | 'unavailable' | undefined

/** Network-level failures that mean the server cannot be reached (any engine over TCP). */
const unreachable = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'])

/** The socket-level code of an error, looking inside the AggregateError Node gives for dual-stack hosts. */
export function networkCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[] } | undefined
  if (typeof e?.code === 'string' && unreachable.has(e.code)) return e.code
  if (Array.isArray(e?.errors)) return e.errors.map(networkCode).find(Boolean)
  return undefined
}
