import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { authRequestInfo } from '../auth/request-info.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { RequestInfo } from '../records/record.ts'
import { ApiError } from '../errors.ts'
import { readRecordBody } from './body.ts'
import type { SensitiveBodies } from './sensitive.ts'
import { DEFAULT_FILE_MAX_SIZE, UploadSpool } from '../files/upload.ts'
import '../auth/request.ts'

export interface RecordsApiOptions {
  records: RecordsService
  /** Opens JWE values (and enforces `requireEncryption`) in multipart bodies; JSON ones are opened by its hook. */
  sensitive?: Pick<SensitiveBodies, 'openRecordBody' | 'budget'>
}

const Params = Type.Object({ collection: Type.String({ minLength: 1, maxLength: 255 }) })
const RecordParams = Type.Object({ collection: Type.String({ minLength: 1, maxLength: 255 }), id: Type.String({ minLength: 1, maxLength: 255 }) })
const ListQuery = Type.Object({
  // Strings, read the way PocketBase reads them (Go's strconv.Atoi / ParseBool), below.
  page: Type.Optional(Type.String()),
  perPage: Type.Optional(Type.String()),
  sort: Type.Optional(Type.String({ maxLength: 1000 })),
  filter: Type.Optional(Type.String({ maxLength: 3500 })),
  expand: Type.Optional(Type.String({ maxLength: 1000 })),
  fields: Type.Optional(Type.String({ maxLength: 1000 })),
  skipTotal: Type.Optional(Type.String()),
})

/**
 * Go's `strconv.Atoi` as PocketBase uses it for `page`/`perPage`: an optional sign and decimal
 * digits within int64, else a 400 (`1e300`, `1.5`, `abc`). The value is then normalized by the
 * service (page < 1 is 1, perPage < 1 is 30, over 1000 is 1000).
 */
function atoi(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined
  if (!/^[+-]?\d+$/.test(raw)) throw new ApiError('bad_request')
  const n = BigInt(raw)
  if (n > INT64_MAX || n < -INT64_MAX - 1n) throw new ApiError('bad_request')
  return Number(n)
}
const INT64_MAX = 9223372036854775807n

/** Go's `strconv.ParseBool`, as PocketBase reads `skipTotal`. */
function parseBool(raw: string | undefined): boolean {
  if (raw === undefined || raw === '') return false
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false
  throw new ApiError('bad_request')
}
const ViewQuery = Type.Object({
  expand: Type.Optional(Type.String({ maxLength: 1000 })),
  fields: Type.Optional(Type.String({ maxLength: 1000 })),
})

/** The largest upload a body key (`avatar`, `+docs`, `docs+`) may carry: its file field's `maxSize`; undefined for other keys. */
function fileMaxSize(records: RecordsService, collection: string, key: string): number | undefined {
  const name = key.replace(/^\+/, '').replace(/[+-]$/, '')
  const field = records.collection(collection)?.fields.find((f) => f.name === name)
  if (field?.type !== 'file') return undefined
  return field.maxSize > 0 ? field.maxSize : DEFAULT_FILE_MAX_SIZE
}

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
    records.list(
      request.params.collection,
      { ...request.query, page: atoi(request.query.page), perPage: atoi(request.query.perPage), skipTotal: parseBool(request.query.skipTotal) },
      info(request),
    ),
  )

  http.get<{ Params: Static<typeof RecordParams>; Querystring: Static<typeof ViewQuery> }>(`${base}/:id`, { schema: { params: RecordParams, querystring: ViewQuery } }, async (request) =>
    records.view(request.params.collection, request.params.id, info(request), request.query),
  )

  /** Reads the body (uploads spooled to temp files), runs the write, then drops the temp files. */
  const withBody = async <T>(request: FastifyRequest, collection: string, write: (body: Record<string, unknown>) => Promise<T>): Promise<T> => {
    const spool = new UploadSpool()
    try {
      const body = await readRecordBody(request, { spool, maxBytesFor: (key) => fileMaxSize(records, collection, key) })
      if (opts.sensitive && request.isMultipart()) await opts.sensitive.openRecordBody(collection, body, opts.sensitive.budget())
      return await write(body)
    } finally {
      await spool.discard()
    }
  }

  http.post<{ Params: Static<typeof Params>; Querystring: Static<typeof ViewQuery> }>(base, { schema: { params: Params, querystring: ViewQuery } }, async (request) =>
    withBody(request, request.params.collection, (body) => records.create(request.params.collection, body, info(request, body), request.query)),
  )

  http.patch<{ Params: Static<typeof RecordParams>; Querystring: Static<typeof ViewQuery> }>(`${base}/:id`, { schema: { params: RecordParams, querystring: ViewQuery } }, async (request) =>
    withBody(request, request.params.collection, (body) => records.update(request.params.collection, request.params.id, body, info(request, body), request.query)),
  )

  http.delete<{ Params: Static<typeof RecordParams> }>(`${base}/:id`, { schema: { params: RecordParams } }, async (request, reply) => {
    await records.delete(request.params.collection, request.params.id, info(request))
    return reply.code(204).send()
  })
}
