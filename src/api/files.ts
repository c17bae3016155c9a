/**
 * PocketBase's files API:
 * - `GET /api/files/{collection}/{recordId}/{filename}` serves a file a record holds: its sniffed
 *   Content-Type, inline only for PocketBase's list of safe media types (any other, html and svg
 *   among them, is an attachment) and always `Content-Security-Policy: default-src 'none' ...;
 *   sandbox`, `?download=1` for an attachment, `?thumb=WxH` for a thumb (thumbs.ts), one byte
 *   `Range` (206, 416), ETag / Last-Modified with 304, and a 30-day Cache-Control.
 *   A thumb once served is kept in memory (thumb-cache.ts): later requests check the record and its
 *   rules as always, then send it without a storage round trip.
 * - A file of a `protected` field needs `?token=` (a file token) whose record passes the
 *   collection's view rule; anything else is 404, as PocketBase answers. Other files need no rule.
 * - A view collection's file is found in the view and served from its source record's storage,
 *   with the view's rules (view-files.ts), as PocketBase does.
 * - `POST /api/files/token` gives the signed-in record a short-lived file token.
 */
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { authRequestInfo } from '../auth/request-info.ts'
import { findRowByToken, type Db } from '../auth/records.ts'
import { signRecordToken, type TokenSubject } from '../auth/tokens.ts'
import { ApiError } from '../errors.ts'
import { isSafeKey, type FileStore, type StoredObject } from '../files/files.ts'
import { fileFields, fileKey, fileNames } from '../files/record-files.ts'
import { DEFAULT_THUMB_SIZES, THUMB_SIZE, THUMB_SOURCE_TYPES, Thumbs } from '../files/thumbs.ts'
import { ThumbCache } from '../files/thumb-cache.ts'
import { sniffType } from '../files/upload.ts'
import { findViewFileSource } from '../files/view-files.ts'
import { rowToRecord } from '../records/fields/index.ts'
import type { AuthCollection } from '../records/model.ts'
import { systemRequest, type AuthInfo } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { parseRange } from '../files/range.ts'
import type { Logger } from '../log.ts'
import '../auth/request.ts'

export interface FilesApiOptions {
  records: RecordsService
  registry: CollectionRegistry
  files: FileStore
  /** The primary's Kysely, where file tokens are checked against their record's tokenKey. */
  db: () => Db
  log: Logger
  thumbs?: Thumbs
  /** Thumbs kept in memory once served (thumb-cache.ts); default 16 MiB of them. */
  thumbCache?: ThumbCache
}

/** PocketBase's media types served inline; every other type is an attachment. */
const INLINE_TYPES = new Set([
  'image/png', 'image/jpg', 'image/jpeg', 'image/gif', 'image/webp', 'image/x-icon', 'image/bmp',
  'video/webm', 'video/mp4', 'video/3gpp', 'video/quicktime', 'video/x-ms-wmv',
  'audio/basic', 'audio/aiff', 'audio/mpeg', 'audio/midi', 'audio/mp3', 'audio/wave', 'audio/wav', 'audio/x-wav', 'audio/x-mpeg', 'audio/x-m4a', 'audio/aac',
  'application/pdf', 'application/x-pdf',
])
/** Types sniffing cannot tell, named by the extension (PocketBase's list); never served inline. */
const BY_EXTENSION: Record<string, string> = { svg: 'image/svg+xml', css: 'text/css', js: 'text/javascript', mjs: 'text/javascript' }
const CSP = "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
const CACHE_CONTROL = 'max-age=2592000, stale-while-revalidate=86400'

const Params = Type.Object({
  collection: Type.String({ minLength: 1, maxLength: 255 }),
  recordId: Type.String({ minLength: 1, maxLength: 255 }),
  filename: Type.String({ minLength: 1, maxLength: 400 }),
})
const Query = Type.Object({
  thumb: Type.Optional(Type.String({ maxLength: 32 })),
  download: Type.Optional(Type.String({ maxLength: 8 })),
  token: Type.Optional(Type.String({ maxLength: 8192 })),
})

const notFound = () => new ApiError('not_found', "The requested resource wasn't found.")
const TRUE_VALUES = new Set(['1', 't', 'T', 'TRUE', 'true', 'True'])

export async function filesRoutes(http: FastifyInstance, opts: FilesApiOptions): Promise<void> {
  const { records, registry, files, log } = opts
  const thumbs = opts.thumbs ?? new Thumbs({ files, log })
  const thumbCache = opts.thumbCache ?? new ThumbCache()
  // Sniffed types of objects whose engine keeps none (local files), by key and modification time.
  const types = new Map<string, string>()
  const typeOf = async (o: StoredObject): Promise<string> => {
    if (o.contentType) return o.contentType
    const cacheKey = `${o.key}\0${o.modified.getTime()}`
    let type = types.get(cacheKey)
    if (type) return type
    const head = o.size ? await files.read(o.key, { start: 0, end: Math.min(o.size, 4100) - 1 }) : null
    const chunks: Buffer[] = []
    if (head) for await (const c of head.body) chunks.push(c as Buffer)
    type = (await sniffType(Buffer.concat(chunks))).mime
    if (types.size >= 10_000) types.delete(types.keys().next().value!)
    types.set(cacheKey, type)
    return type
  }

  http.post('/api/files/token', async (request) => {
    const auth = request.auth
    if (!auth) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
    return { token: await signRecordToken(auth.collection as AuthCollection, auth.record as unknown as TokenSubject, 'file') }
  })

  http.get<{ Params: Static<typeof Params>; Querystring: Static<typeof Query> }>(
    '/api/files/:collection/:recordId/:filename',
    { schema: { params: Params, querystring: Query } },
    async (request, reply) => {
      const { collection: idOrName, recordId, filename } = request.params
      const c = records.collection(idOrName)
      // A name stored around Plinth (an import) that is no safe key is as missing as any other.
      if (!c || !isSafeKey(filename)) throw notFound()
      const record = await records.view(c.id, recordId, systemRequest('file')).catch(() => null)
      const field = record && fileFields(c).find((f) => f.type === 'file' && fileNames(record[f.name]).includes(filename))
      if (!record || !field || field.type !== 'file') throw notFound()
      if (field.protected) {
        const token = request.query.token ?? ''
        const match = token ? await findRowByToken({ registry, db: opts.db() }, token, 'file') : null
        const auth: AuthInfo | null = match && { collection: match.collection, record: rowToRecord(match.collection, match.row), isSuperuser: match.collection.name === '_superusers' }
        // The view rule judged as the token's record (a guest without one): refused or missing is 404.
        const seen = await records.view(c.id, recordId, authRequestInfo(request, auth, {}, 'protectedFile')).catch(() => null)
        if (!seen) throw notFound()
      }
      // A view's file is stored under its source record (view-files.ts), as in PocketBase.
      const stored = c.type === 'view' ? await findViewFileSource({ registry, records }, c, field.name, filename) : { collection: c, recordId: record.id }
      if (!stored) throw notFound()
      const base = `${stored.collection.id}/${stored.recordId}`
      let key = fileKey(stored.collection.id, stored.recordId, filename)
      let name = filename
      const thumb = request.query.thumb
      const thumbKey = `${base}/thumbs_${filename}/${thumb}_${filename}`
      const wantsThumb = thumb !== undefined && THUMB_SIZE.test(thumb) && (DEFAULT_THUMB_SIZES.includes(thumb) || field.thumbs.includes(thumb))
      // A thumb served before comes from memory (thumb-cache.ts); one made before is served without
      // looking at the original (it goes when the original goes).
      const cached = wantsThumb ? thumbCache.get(thumbKey) : undefined
      let object = cached?.object ?? (wantsThumb ? await files.stat(thumbKey) : null)
      let realType = cached?.type ?? (object && (await typeOf(object)))
      if (object) {
        key = thumbKey
        name = `${thumb}_${filename}`
      } else {
        const original = await files.stat(key)
        if (!original) throw notFound()
        object = original
        realType = await typeOf(original)
        const thumbType = wantsThumb && THUMB_SOURCE_TYPES.has(realType) ? await thumbs.ensure(key, thumbKey, thumb, realType) : null
        const made = thumbType ? await files.stat(thumbKey) : null
        if (made && thumbType) {
          key = thumbKey
          name = `${thumb}_${filename}`
          object = made
          realType = thumbType
        }
      }
      if (!realType) throw notFound()
      const download = TRUE_VALUES.has(request.query.download ?? '')
      const ext = /\.([a-z0-9]+)$/.exec(name)?.[1] ?? ''
      let contentType = BY_EXTENSION[ext] ?? realType
      if (contentType.startsWith('text/') && !contentType.includes('charset')) contentType += '; charset=utf-8'
      reply
        .header('content-type', contentType)
        .header('content-disposition', `${!download && INLINE_TYPES.has(realType) ? 'inline' : 'attachment'}; filename="${name}"`)
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', field.protected ? `private, ${CACHE_CONTROL}` : CACHE_CONTROL)
      const type = realType
      const remember = key === thumbKey && !cached && thumbCache.fits(object.size) ? (o: StoredObject, bytes: Buffer) => thumbCache.set(thumbKey, { object: o, type, bytes }) : undefined
      return serveObject(request, reply, files, key, object, cached?.bytes, remember)
    },
  )
}

/**
 * Sends an object with validators, conditional GET (304) and one byte range (206 / 416): `bytes`
 * when they are in memory already, else read from storage; `remember` is given the whole object's
 * bytes when it was read whole (a thumb for the cache).
 */
async function serveObject(
  request: FastifyRequest, reply: FastifyReply, files: FileStore, key: string, o: StoredObject,
  bytes?: Buffer, remember?: (o: StoredObject, bytes: Buffer) => void,
): Promise<FastifyReply> {
  const etag = `"${o.size.toString(16)}-${o.modified.getTime().toString(16)}"`
  const lastModified = o.modified.toUTCString()
  reply.header('etag', etag).header('last-modified', lastModified).header('accept-ranges', 'bytes')
  const h = request.headers
  const inm = h['if-none-match']
  const ims = h['if-modified-since']
  if (inm !== undefined ? inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*') : ims !== undefined && Date.parse(ims) >= Math.floor(o.modified.getTime() / 1000) * 1000) {
    return reply.code(304).send()
  }
  const ifRange = h['if-range']
  const rangeHeader = ifRange === undefined || ifRange === etag || ifRange === lastModified ? h.range : undefined
  const range = rangeHeader === undefined ? undefined : parseRange(rangeHeader, o.size)
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${o.size}`).header('content-type', 'text/plain; charset=utf-8').send('')
  }
  let body: Buffer | Readable
  let size = o.size
  if (bytes) body = range ? bytes.subarray(range.start, range.end + 1) : bytes
  else {
    const got = await files.read(key, range, o)
    if (!got) throw notFound()
    let whole = range ? undefined : got.bytes
    if (remember && !range && !whole && request.method !== 'HEAD') whole = await buffer(got.body)
    if (whole && remember) remember({ key, size: whole.length, modified: got.modified, ...(got.contentType ? { contentType: got.contentType } : {}) }, whole)
    body = whole ?? got.body
    size = got.size
  }
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${o.size}`)
  reply.header('content-length', String(Buffer.isBuffer(body) ? body.length : range ? range.end - range.start + 1 : size))
  if (request.method === 'HEAD' && !Buffer.isBuffer(body)) {
    // Fastify's HEAD route drains a stream payload and keeps Content-Length; an empty one costs nothing.
    body.destroy()
    return reply.send(Readable.from([]))
  }
  return reply.send(body)
}
