import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import { REQUEST_MSG } from '../log.ts'
import { ERROR_CODE_HEADER } from '../errors.ts'
import '../auth/request.ts'

/**
 * One log line per request, written when its response has been sent, in place of Fastify's two
 * ("incoming request", "request completed"):
 * `{"reqId", "method", "url", "status", "ms", "code", "auth", "authId", "msg": "request"}`, where
 * `url` is the path and query as received (as PocketBase logs it), `ms` the time to the response's
 * end, `code` the catalogue's error code of an error answer (its `X-Plinth-Error`), and
 * `auth`/`authId` the collection and id of the superuser or auth record that made it (absent for
 * guests). Headers are never logged, so neither are tokens. A 5xx also has its own line, with the
 * error, from the error handler (same `reqId`).
 *
 * Passed to Fastify as its `logController`; Fastify's other lines (stream errors, serializer
 * failures) stay as they are.
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const auth = request.auth
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      code: reply.statusCode >= 400 ? reply.getHeader(ERROR_CODE_HEADER) : undefined,
      auth: auth?.collection.name,
      authId: auth?.record.id,
      err: error ?? undefined,
    }
    // An error here is the response stream's own (the client went away mid-body, a stream failed).
    if (error) request.log.error(line, REQUEST_MSG)
    else request.log.info(line, REQUEST_MSG)
  }
}
