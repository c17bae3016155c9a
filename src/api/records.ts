import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { authRequestInfo } from '../auth/request-info.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { RequestInfo } from '../records/record.ts'
import { readRecordBody } from './body.ts'
import '../auth/request.ts'

export interface RecordsApiOptions {
  records: RecordsService
}

const Params = Type.Object({ collection: Type.String({ minLength: 1, maxLength: 255 }) })
const RecordParams = Type.Object({ collection: Type.String({ minLength: 1, maxLength: 255 }), id: Type.String({ minLength: 1, maxLength: 255 }) })
const ListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1 })),
  perPage: Type.Optional(Type.Integer({ minimum: 0 })),
  sort: Type.Optional(Type.String({ maxLength: 1000 })),
  filter: Type.Optional(Type.String({ maxLength: 3500 })),
  expand: Type.Optional(Type.String({ maxLength: 1000 })),
  fields: Type.Optional(Type.String({ maxLength: 1000 })),
  // The SDK sends `skipTotal=1`; `true`/`false`/`0` are accepted too.
  skipTotal: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')])),
})
const ViewQuery = Type.Object({
  expand: Type.Optional(Type.String({ maxLength: 1000 })),
  fields: Type.Optional(Type.String({ maxLength: 1000 })),
})

function info(request: FastifyRequest, body: Record<string, unknown> = {}): RequestInfo {
  return authRequestInfo(request, request.auth ?? null, body, 'default')
}

/**
 * PocketBase's records API: `/api/collections/{collection}/records[/{id}]`.
 * Every query and path is validated by its schema; rules and errors are the service's.
 */
export async function recordsRoutes(http: FastifyInstance, opts: RecordsApiOptions): Promise<void> {
  const { records } = opts
  const base = '/api/collections/:collection/records'

  http.get<{ Params: Static<typeof Params>; Querystring: Static<typeof ListQuery> }>(base, { schema: { params: Params, querystring: ListQuery } }, async (request) =>
    records.list(request.params.collection, { ...request.query, skipTotal: request.query.skipTotal === '1' || request.query.skipTotal === 'true' }, info(request)),
  )

  http.get<{ Params: Static<typeof RecordParams>; Querystring: Static<typeof ViewQuery> }>(`${base}/:id`, { schema: { params: RecordParams, querystring: ViewQuery } }, async (request) =>
    records.view(request.params.collection, request.params.id, info(request), request.query),
  )

  http.post<{ Params: Static<typeof Params>; Querystring: Static<typeof ViewQuery> }>(base, { schema: { params: Params, querystring: ViewQuery } }, async (request) => {
    const body = await readRecordBody(request)
    return records.create(request.params.collection, body, info(request, body), request.query)
  })

  http.patch<{ Params: Static<typeof RecordParams>; Querystring: Static<typeof ViewQuery> }>(`${base}/:id`, { schema: { params: RecordParams, querystring: ViewQuery } }, async (request) => {
    const body = await readRecordBody(request)
    return records.update(request.params.collection, request.params.id, body, info(request, body), request.query)
  })

  http.delete<{ Params: Static<typeof RecordParams> }>(`${base}/:id`, { schema: { params: RecordParams } }, async (request, reply) => {
    await records.delete(request.params.collection, request.params.id, info(request))
    return reply.code(204).send()
  })
}
