import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import { LOGS_MAX_PER_PAGE } from '../logs/log-query.ts'
import type { RequestLogs } from '../logs/request-logs.ts'
import { MAX_FILTER_LENGTH } from '../records/filter/parser.ts'
import { plainIp } from './client-ip.ts'
import { toApiError } from './error-handler.ts'
import { superuserOnly } from './settings.ts'
import '../auth/request.ts'

/** slog's levels, as PocketBase stores them. */
const INFO = 0
const ERROR = 8

const ListQuery = Type.Object({
  page: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
  perPage: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
  sort: Type.Optional(Type.String({ maxLength: 1000 })),
  filter: Type.Optional(Type.String({ maxLength: MAX_FILTER_LENGTH })),
  skipTotal: Type.Optional(Type.String({ maxLength: 5 })),
  fields: Type.Optional(Type.String({ maxLength: 1000 })),
})
const StatsQuery = Type.Object({ filter: Type.Optional(Type.String({ maxLength: MAX_FILTER_LENGTH })) })
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 255 }) })

const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}...` : s)

/**
 * PocketBase's request log entry (its `activityLogger`): level error for an error answer, else
 * info; `data` holds `type: "request"`, `execTime` (ms), `url`, `method`, `status`, `referer`,
 * `userAgent`, `auth` (the collection, `""` for a guest), `authId` (with `logs.logAuthId`),
 * `userIP`/`remoteIP` (with `logs.logIP`) and, for an error, `error` and `details`.
 */
function entryOf(logs: RequestLogs, request: FastifyRequest, reply: FastifyReply, err: unknown) {
  const settings = logs.settings
  const method = request.method.toUpperCase().slice(0, 50)
  const url = cut(request.url, 3000)
  const data: Record<string, unknown> = {
    type: 'request',
    execTime: Math.round(reply.elapsedTime * 1000) / 1000,
    url,
    method,
    status: reply.statusCode,
    referer: cut(String(request.headers.referer ?? ''), 2000),
    userAgent: cut(String(request.headers['user-agent'] ?? ''), 2000),
    auth: request.auth?.collection.name ?? '',
  }
  if (request.auth && settings.logAuthId) data.authId = request.auth.record.id
  if (settings.logIP) {
    data.userIP = request.clientIp
    data.remoteIP = plainIp(request.socket.remoteAddress ?? '')
  }
  if (err !== undefined) {
    const apiError = toApiError(err)
    data.error = apiError.message
    data.details = apiError.data
  }
  let shown = url
  try {
    shown = decodeURI(url)
  } catch {
    // a malformed escape: the URL as received
  }
  return { level: err !== undefined || reply.statusCode >= 400 ? ERROR : INFO, message: `${method} ${shown}`, data }
}

/**
 * Writes one request log entry per answered request (the batching writer does the SQL later, off
 * the request path). Successful reads of the logs themselves are not logged (PocketBase's
 * `SkipSuccessActivityLog` on them), so the console's own polling does not fill the log.
 */
export function installRequestLogging(http: FastifyInstance, logs: RequestLogs): void {
  const errors = new WeakMap<FastifyRequest, unknown>()
  http.addHook('onError', (request, _reply, err, done) => {
    errors.set(request, err)
    done()
  })
  http.addHook('onResponse', (request, reply, done) => {
    const err = errors.get(request)
    if (!(err === undefined && reply.statusCode < 400 && request.routeOptions.url?.startsWith('/api/logs'))) {
      try {
        logs.add(entryOf(logs, request, reply, err))
      } catch (e) {
        request.log.warn({ err: e }, 'logs: request log entry not recorded')
      }
    }
    done()
  })
}

/**
 * PocketBase's logs API, superusers only: `GET /api/logs` (page, perPage up to 1000, filter and
 * sort on `id`, `created`, `level`, `message`, `data.*` in its filter syntax, skipTotal),
 * `GET /api/logs/stats?filter=` (`[{total, date}]` per hour) and `GET /api/logs/{id}`.
 */
export async function logsRoutes(http: FastifyInstance, opts: { logs: RequestLogs }): Promise<void> {
  const { query } = opts.logs
  http.get<{ Querystring: Static<typeof ListQuery> }>('/api/logs', { onRequest: superuserOnly, schema: { querystring: ListQuery } }, async (request) => {
    const q = request.query
    const skip = q.skipTotal ?? ''
    if (!['', '0', '1', 'true', 'false', 't', 'f', 'TRUE', 'FALSE', 'True', 'False', 'T', 'F'].includes(skip)) throw new ApiError('bad_request')
    return query.list({
      page: q.page ? Number(q.page) : 1,
      perPage: q.perPage ? Math.min(Number(q.perPage), LOGS_MAX_PER_PAGE) : 0,
      filter: q.filter,
      sort: q.sort,
      skipTotal: ['1', 'true', 't', 'TRUE', 'True', 'T'].includes(skip),
    })
  })
  http.get<{ Querystring: Static<typeof StatsQuery> }>('/api/logs/stats', { onRequest: superuserOnly, schema: { querystring: StatsQuery } }, async (request) =>
    query.stats(request.query.filter),
  )
  http.get<{ Params: Static<typeof IdParams> }>('/api/logs/:id', { onRequest: superuserOnly, schema: { params: IdParams } }, async (request) => {
    const log = await query.view(request.params.id)
    if (!log) throw new ApiError('not_found')
    return log
  })
}
