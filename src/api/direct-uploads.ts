/**
 * Direct uploads (Plinth extension): the client asks for a presigned PUT URL for one file of a
 * record's file field, declaring its size and type; it PUTs the bytes straight to the bucket, then
 * confirms. Plinth checks the stored object (size as declared, magic bytes of the declared type)
 * and attaches it through an ordinary record update, so the update rule, the field's limits,
 * hooks and events all apply. On any failure the uploaded object is deleted.
 *
 * A pending upload is a counters key (`setIfAbsent`, expiring with the URL, so any node can
 * confirm it and only once) plus its facts as a small object next to the uploaded one in the
 * files store (`_pending/{uploadId}/upload.json`, the bytes at `.../data`): the counters port
 * keeps numbers only. NB: a pending upload never confirmed leaves its objects behind (see README).
 */
import { randomBytes } from 'node:crypto'
import { buffer } from 'node:stream/consumers'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { authRequestInfo } from '../auth/request-info.ts'
import type { Counters } from '../counters/counters.ts'
import { ApiError } from '../errors.ts'
import type { FileStore } from '../files/files.ts'
import { DEFAULT_FILE_MAX_SIZE, sniffType, storedName } from '../files/upload.ts'
import type { UploadedFile } from '../records/fields/index.ts'
import { isMulti } from '../records/model.ts'
import { actsAsSuperuser } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import '../auth/request.ts'

export interface DirectUploadsOptions {
  records: RecordsService
  files: FileStore
  counters: Counters
}

/** How long the presigned URL (and the pending upload) lives. */
const EXPIRES_SECONDS = 15 * 60
/** Where objects wait for their confirm; never served (not a record's key). */
const PENDING_PREFIX = '_pending'
const SNIFF_BYTES = 4100

const Create = Type.Object(
  {
    collection: Type.String({ minLength: 1, maxLength: 255 }),
    record: Type.String({ minLength: 1, maxLength: 255, pattern: '^\\w+$' }),
    field: Type.String({ minLength: 1, maxLength: 255 }),
    name: Type.String({ minLength: 1, maxLength: 300 }),
    size: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    type: Type.String({ minLength: 3, maxLength: 255, pattern: '^[\\w.+-]+/[\\w.+-]+$' }),
  },
  { additionalProperties: false },
)
const ConfirmParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\w-]+$' }) })

/** A pending upload's facts: collection id, record id, field, stored name, original name, size, type, who asked. */
interface Pending {
  c: string
  r: string
  f: string
  n: string
  o: string
  s: number
  t: string
  u: string
}

const counterKey = (id: string) => `upload:${id}`
const dataKey = (id: string) => `${PENDING_PREFIX}/${id}/data`
const factsKey = (id: string) => `${PENDING_PREFIX}/${id}/upload.json`
const NOT_FOUND = 'The upload was not found or has expired.'
const who = (request: FastifyRequest) => (request.auth ? `${request.auth.collection.id}:${request.auth.record.id}` : '')

async function readFacts(files: FileStore, id: string): Promise<Pending | undefined> {
  const object = await files.read(factsKey(id))
  if (!object) return undefined
  return JSON.parse((await buffer(object.body)).toString('utf8')) as Pending
}

export async function directUploadsRoutes(http: FastifyInstance, opts: DirectUploadsOptions): Promise<void> {
  const { records, files, counters } = opts

  http.post<{ Body: Static<typeof Create> }>('/api/plinth/uploads', { schema: { body: Create } }, async (request) => {
    if (!request.auth) throw new ApiError('unauthorized')
    if (!files.presignPut) throw new ApiError('bad_request', 'Direct uploads need a files engine that can sign URLs (S3).')
    const body = request.body
    const c = records.collection(body.collection)
    if (!c || c.type === 'view') throw new ApiError('not_found')
    const field = c.fields.find((f) => f.name === body.field)
    if (field?.type !== 'file') throw new ApiError('bad_request', `${body.field} is not a file field.`)
    const req = authRequestInfo(request, request.auth, {}, 'default')
    // The record must be visible to the caller (404 otherwise); a collection only superusers update is 403 now.
    await records.view(c.name, body.record, req)
    if (c.updateRule === null && !actsAsSuperuser(req)) throw new ApiError('forbidden', 'Only superusers can perform this action.')
    const maxSize = field.maxSize > 0 ? field.maxSize : DEFAULT_FILE_MAX_SIZE
    if (body.size > maxSize) throw new ApiError('bad_request', `The file is larger than ${maxSize} bytes.`)
    if (field.mimeTypes.length && !field.mimeTypes.includes(body.type)) throw new ApiError('bad_request', `Type ${body.type} is not allowed for ${field.name}.`)
    const pending: Pending = { c: c.id, r: body.record, f: field.name, n: storedName(body.name), o: body.name.slice(0, 300), s: body.size, t: body.type, u: who(request) }
    const uploadId = randomBytes(18).toString('base64url')
    await files.put(factsKey(uploadId), Buffer.from(JSON.stringify(pending)), { contentType: 'application/json' })
    const put = await files.presignPut(dataKey(uploadId), { size: body.size, contentType: body.type, expiresInSeconds: EXPIRES_SECONDS })
    if (!(await counters.setIfAbsent(counterKey(uploadId), '1', EXPIRES_SECONDS * 1000))) throw new ApiError('conflict')
    return { uploadId, url: put.url, method: put.method, headers: put.headers, expiresAt: put.expiresAt.toISOString() }
  })

  http.post<{ Params: Static<typeof ConfirmParams> }>('/api/plinth/uploads/:id/confirm', { schema: { params: ConfirmParams } }, async (request) => {
    if (!request.auth) throw new ApiError('unauthorized')
    const id = request.params.id
    // Single use: the first confirm claims the pending entry (atomically, on any node); a second
    // one, a stranger's or a late one finds none.
    const live = await counters.get(counterKey(id))
    const p = live ? await readFacts(files, id) : undefined
    if (!live || !p || p.u !== who(request)) throw new ApiError('not_found', NOT_FOUND)
    if ((await counters.increment(`${counterKey(id)}:claim`, live.ttlMs)).count !== 1) throw new ApiError('not_found', NOT_FOUND)
    await counters.delete(counterKey(id))
    const key = dataKey(id)
    const c = records.collection(p.c)
    const field = c?.fields.find((f) => f.name === p.f)
    try {
      if (!c || !field) throw new ApiError('not_found')
      const stat = await files.stat(key)
      if (!stat) throw new ApiError('bad_request', 'Nothing was uploaded.')
      if (stat.size !== p.s) throw new ApiError('bad_request', `The uploaded file has ${stat.size} bytes, not the ${p.s} declared.`)
      const head = await files.read(key, { start: 0, end: Math.min(SNIFF_BYTES, p.s) - 1 })
      const sniffed = await sniffType(head ? await buffer(head.body) : Buffer.alloc(0))
      if (sniffed.mime !== p.t) throw new ApiError('bad_request', `The uploaded file is ${sniffed.mime}, not the ${p.t} declared.`)
      const object = await files.read(key)
      if (!object) throw new ApiError('bad_request', 'Nothing was uploaded.')
      const upload: UploadedFile = { name: p.n, originalName: p.o, size: p.s, mimeType: sniffed.mime, body: () => object.body }
      const input = { [isMulti(field) ? `${field.name}+` : field.name]: upload }
      try {
        return await records.update(c.name, p.r, input, authRequestInfo(request, request.auth, input, 'default'))
      } finally {
        object.body.destroy()
      }
    } finally {
      // Stored under the record by now, or refused: the pending copy goes either way.
      await files.delete(key)
      await files.delete(factsKey(id))
    }
  })
}
