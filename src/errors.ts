/**
 * The error catalogue: every error a client can see, with a stable code and status.
 *
 * Response bodies are exactly PocketBase's `{status, message, data}`, so its SDKs and users' code
 * read them unchanged; the stable machine code travels in the `X-Plinth-Error` response header
 * (clients and tests may rely on it; the message follows PocketBase's wording).
 * Nothing else from an internal error (stack, SQL text, driver message) ever reaches a client.
 */
import type { ValidationCode } from './validation-codes.ts'

export interface FieldError {
  /** One of the catalogue's codes (validation-codes.ts). */
  code: ValidationCode
  message: string
  /** The values in the message (`{maxSelect: 5}`), as PocketBase sends them. */
  params?: Record<string, unknown>
}

/** PocketBase's `inflector.Sentenize`: trimmed, first letter upper-case, ends with `.`, `?` or `!`. */
export function sentenize(text: string): string {
  const s = text.trim()
  if (!s) return ''
  const out = s[0]!.toUpperCase() + s.slice(1)
  return /[.?!]$/.test(out) ? out : out + '.'
}

const catalogue = {
  bad_request: { status: 400, message: 'Something went wrong while processing your request.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  validation_failed: { status: 400, message: 'Failed to validate the submitted data.' },
  invalid_filter: { status: 400, message: 'Invalid filter expression.' },
  unauthorized: { status: 401, message: 'The request requires valid authorization.' },
  // RFC 9421 request signatures (src/security/signatures): which check failed, never which bytes.
  signature_missing: { status: 401, message: 'The request must be signed, covering the required components.' },
  signature_bad_digest: { status: 401, message: 'The request body does not match its Content-Digest.' },
  signature_expired: { status: 401, message: 'The request signature is expired or not yet valid.' },
  signature_replayed: { status: 401, message: 'The request signature nonce was already used.' },
  signature_unknown_key: { status: 401, message: 'The request signature key is unknown.' },
  signature_bad: { status: 401, message: 'The request signature is invalid.' },
  forbidden: { status: 403, message: 'You are not allowed to perform this request.' },
  not_found: { status: 404, message: "The requested resource wasn't found." },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  conflict: { status: 409, message: 'The request conflicts with the current state.' },
  body_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Unsupported content type.' },
  too_many_requests: { status: 429, message: 'Too many requests.' },
  internal: { status: 500, message: 'Something went wrong while processing your request.' },
  unavailable: { status: 503, message: 'The service is temporarily unavailable.' },
  timeout: { status: 503, message: 'The request took too long to process.' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof catalogue

/** The one error type handlers throw; the error handler turns it into a response. */
export class ApiError extends Error {
  readonly status: number
  /** For 429 and 503: how long the client should wait, sent as `Retry-After` (seconds). */
  readonly retryAfterSeconds?: number
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message ?? catalogue[code].message)
    this.name = 'ApiError'
    this.status = catalogue[code].status
  }

  /** The response body: PocketBase's shape, nothing more. */
  toJSON(): { status: number; message: string; data: Record<string, unknown> } {
    return { status: this.status, message: this.message, data: this.data }
  }
}

/** A 400 with per-field errors in PocketBase's `data.{field}.code` form. */
export function validationError(fields: Record<string, FieldError>, message?: string): ApiError {
  // Field messages are sentenized on the wire as PocketBase does ("Select no more than 5.").
  const data: Record<string, FieldError> = {}
  for (const [name, e] of Object.entries(fields)) data[name] = { ...e, message: sentenize(e.message) }
  return new ApiError('validation_failed', message, data)
}

export function statusOf(code: ErrorCode): number {
  return catalogue[code].status
}

/** The response header that carries an error's stable catalogue code. */
export const ERROR_CODE_HEADER = 'x-plinth-error'
