/**
 * The SQL failures a request can meet whatever its statement: the server's state (timeout,
 * unavailable: 503), a value no statement can take (invalid text: 400), or a unique constraint
 * another row holds. Each engine's dialect recognises its driver's errors (`classify`) and the
 * guard rethrows them as one of these (see `guard.ts`), so no feature knows an engine's codes.
 */

/** What the errors below share: the driver's error as `cause`, its code kept for logs. */
abstract class SqlPortError extends Error {
  /** The driver's code (`57014`, `ER_STATEMENT_TIMEOUT`, `22021`, ...), kept for logs. */
  readonly code: string | undefined
  constructor(message: string, cause?: unknown) {
    super(message, { cause })
    this.name = new.target.name
    this.code = (cause as { code?: string } | undefined)?.code
  }
}

/** A statement ran past `statementTimeout` and the database cancelled it. */
export class SqlTimeoutError extends SqlPortError {}

/**
 * No connection could be had: none was free within `poolTimeout` (SQLite: the write lock was not),
 * or the database is down or refusing connections.
 */
export class SqlUnavailableError extends SqlPortError {}

/**
 * A value the engine cannot take as text, whatever the statement: a NUL character on PostgreSQL
 * (in a filter literal, a request value a rule reads, a sign-in identity). The request's fault, so
 * a 400, and one place catches every path that could pass such a value on.
 */
export class SqlInvalidTextError extends SqlPortError {}

/**
 * A write met a UNIQUE constraint (or the primary key) that another row already holds. Features
 * that expect it (a record write racing another) catch this class, never a driver's code.
 */
export class SqlUniqueViolationError extends SqlPortError {}

/** How an engine sorts a driver error: one of the four above, or anything else (left as it is). */
export type SqlErrorKind = 'timeout' | 'unavailable' | 'invalid_text' | 'unique_violation' | undefined

/** Network-level failures that mean the server cannot be reached (any engine over TCP). */
const unreachable = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'])

/** The socket-level code of an error, looking inside the AggregateError Node gives for dual-stack hosts. */
export function networkCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[] } | undefined
  if (typeof e?.code === 'string' && unreachable.has(e.code)) return e.code
  if (Array.isArray(e?.errors)) return e.errors.map(networkCode).find(Boolean)
  return undefined
}
