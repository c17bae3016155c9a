import type { FastifyError, FastifyInstance } from 'fastify'
import { ApiError, ERROR_CODE_HEADER, sentenize, type ErrorCode, type FieldError } from '../errors.ts'
import { SqlInvalidTextError, SqlTimeoutError, SqlUnavailableError } from '../sql/errors.ts'
import { CountersUnavailableError } from '../counters/errors.ts'
import { lengthError } from './record-auth-body.ts'

/** Fastify's own error codes that a client can cause, mapped to the catalogue. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'validation_failed',
}

/**
 * A request-schema failure (Fastify's validator) as one of the catalogue's field errors, worded as
 * PocketBase words the same problem.
 */
function schemaFieldError(keyword: string, params: { limit?: unknown } | undefined, message: string | undefined): FieldError {
  const limit = Number(params?.limit)
  if (keyword === 'required') return { code: 'validation_required', message: 'Cannot be blank.' }
  if (keyword === 'minLength') return lengthError(limit, 0)
  if (keyword === 'maxLength') return lengthError(0, limit)
  return { code: 'validation_invalid_value', message: message ? sentenize(message) : 'Invalid value.' }
}

/** Converts any thrown value to an ApiError; unknown errors become a bare 500 (details go to the log only). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  // The database's state, not the request's fault: 503 (retry later), never a 500 with SQL in the log only.
  if (err instanceof SqlTimeoutError) return new ApiError('timeout')
  if (err instanceof SqlUnavailableError) return new ApiError('unavailable')
  if (err instanceof SqlInvalidTextError) return new ApiError('bad_request')
  // Counters guard security (throttling): with their engine down the request is refused, not let through.
  if (err instanceof CountersUnavailableError) return new ApiError('unavailable')
  const e = err as FastifyError
  const mapped = e?.code ? fastifyCodes[e.code] : undefined
  if (mapped === 'validation_failed' && Array.isArray(e.validation)) {
    const data: Record<string, FieldError> = {}
    for (const v of e.validation) {
      const field = (v.instancePath || `/${String(v.params?.missingProperty ?? '')}`).replace(/^\//, '').replaceAll('/', '.') || (e.validationContext ?? 'body')
      data[field] = schemaFieldError(v.keyword, v.params as { limit?: unknown } | undefined, v.message)
    }
    return new ApiError('validation_failed', undefined, data)
  }
  if (mapped) return new ApiError(mapped)
  // A SyntaxError from a JSON body parser that is not Fastify's own.
  if (e instanceof SyntaxError && (e as { statusCode?: number }).statusCode === 400) return new ApiError('invalid_json')
  const status = (e as { statusCode?: number })?.statusCode
  if (status === 404) return new ApiError('not_found')
  if (status === 405) return new ApiError('method_not_allowed')
  if (status === 415) return new ApiError('unsupported_media_type')
  if (status === 413) return new ApiError('body_too_large')
  if (status && status >= 400 && status < 500) return new ApiError('bad_request')
  return new ApiError('internal')
}

/**
 * One error path for the whole API: bodies in PocketBase's `{status, message, data}` shape, the
 * stable code in the `X-Plinth-Error` header, 5xx details logged with the request id and never sent.
 */
export function installErrorHandling(http: FastifyInstance): void {
  http.setErrorHandler((err, request, reply) => {
    const apiErr = toApiError(err)
    if (apiErr.status === 503) request.log.warn({ code: apiErr.code, reason: (err as Error).message }, apiErr.message)
    else if (apiErr.status >= 500) request.log.error({ err }, 'request failed')
    // A client's mistake: the request's own line already names the code (src/api/request-log.ts).
    else request.log.debug({ code: apiErr.code }, apiErr.message)
    // A 413 before the body was all read (an upload over its limit) closes the connection rather
    // than reading the rest only to drop it.
    if (apiErr.status === 413 && !request.raw.complete) reply.header('connection', 'close')
    if (apiErr.retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(apiErr.retryAfterSeconds))))
    return reply.code(apiErr.status).header(ERROR_CODE_HEADER, apiErr.code).send(apiErr.toJSON())
  })
  http.setNotFoundHandler((_request, reply) => {
    const apiErr = new ApiError('not_found')
    return reply.code(404).header(ERROR_CODE_HEADER, apiErr.code).send(apiErr.toJSON())
  })
}
