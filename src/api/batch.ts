import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance } from 'fastify'
import { authRequestInfo } from '../auth/request-info.ts'
import { ApiError } from '../errors.ts'
import { hasNul } from '../records/fields/cast.ts'
import { withoutForbiddenKeys } from '../records/fields/forbidden-keys.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { readRecordBody } from './body.ts'
import type { SensitiveBodies } from './sensitive.ts'
import { DEFAULT_FILE_MAX_SIZE, UploadSpool } from '../files/upload.ts'
import { toApiError } from './error-handler.ts'
import type { RateLimiter } from './rate-limits.ts'
import '../auth/request.ts'

export interface BatchApiOptions {
  records: RecordsService
  /** The collections, for the largest file a batch part may carry; PocketBase's 5 MiB without it. */
  registry?: CollectionRegistry
  /** Most sub-requests in one batch (PocketBase's default is 50). */
  maxRequests?: number
  /** Rate limits (when on): each request inside a batch counts as if it were sent alone. */
  limiter?: RateLimiter
  /**
   * Opens JWE values and enforces `requireEncryption` in each record request's body, as for a
   * request sent alone (the JSON-body hook sees only the batch's `requests` array).
   */
  sensitive?: Pick<SensitiveBodies, 'openRecordBody'>
  /**
   * PocketBase's `batch` settings, read per request (src/settings/): off = 403, `maxRequests`
   * replaces the option above, `maxBodySize` (bytes, 0 = the server's body limit) caps the body,
   * `timeout` (seconds, 0 = none) bounds the transaction: no sub-request starts after it.
   */
  settings?: () => { enabled: boolean; maxRequests: number; maxBodySize: number; timeout: number }
}

/** The most values a whole batch may have decrypted (each an RSA private-key operation). */
const BATCH_DECRYPT_BUDGET = 64

/** The action a batched request is counted as; an upsert (PUT) counts as the create it may be. */
const batchTags: Record<string, string> = { POST: 'create', PUT: 'create', PATCH: 'update', DELETE: 'delete' }
/** A file part of a batch: `requests.{index}.{field}` (with `+`/`-` modifiers), as PocketBase's SDK names them. */
const FILE_PART = /^requests\.(\d{1,4})\.([^.]+)$/

const BatchBody = Type.Object({
  requests: Type.Array(
    Type.Object({
      method: Type.String({ minLength: 1, maxLength: 10 }),
      url: Type.String({ minLength: 1, maxLength: 2000 }),
      headers: Type.Optional(Type.Record(Type.String(), Type.String())),
      body: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
    { minItems: 1 },
  ),
})

const recordUrl = /^\/api\/collections\/([^/?#]+)\/records(?:\/([^/?#]+))?\/?(?:\?(.*))?$/

/**
 * `POST /api/batch`: create, update, upsert (PUT) and delete record requests in ONE unit of work
 * (`records.transaction`), all or none, as PocketBase does. Each runs with the batch request's own
 * auth and the rules of its collection; the answer is `[{status, body}]`, or 400 naming the
 * request that failed. The `after...Success` hooks and commit listeners hear of the writes only
 * once the whole batch has committed; a failed batch tells them nothing.
 */
export async function batchRoutes(http: FastifyInstance, opts: BatchApiOptions): Promise<void> {
  http.post('/api/batch', async (request, reply) => {
    const live = opts.settings?.()
    if (live && !live.enabled) throw new ApiError('forbidden', 'Batch requests are not allowed.')
    const max = live?.maxRequests ?? opts.maxRequests ?? 50
    if (live?.maxBodySize && Number(request.headers['content-length'] ?? 0) > live.maxBodySize) throw new ApiError('body_too_large')
    // JSON, or multipart with the requests in `@jsonPayload` (what PocketBase's SDK sends) and
    // files as `requests.N.field` parts. Those come before the JSON, so each is bounded by the
    // largest maxSize of any file field; its own field's limit is checked by validation (400).
    const spool = new UploadSpool()
    reply.raw.once('close', () => void spool.discard())
    const largest = Math.max(DEFAULT_FILE_MAX_SIZE, ...(opts.registry?.all() ?? []).flatMap((c) => c.fields.map((f) => (f.type === 'file' ? f.maxSize : 0))))
    const raw = await readRecordBody(request, { spool, maxBytesFor: (key) => (FILE_PART.test(key) ? largest : undefined) })
    const files = Object.entries(raw).filter(([key]) => FILE_PART.test(key))
    for (const [key] of files) delete raw[key]
    if (!Value.Check(BatchBody, raw)) {
      const first = Value.Errors(BatchBody, raw).First()
      throw new ApiError('validation_failed', undefined, {
        [first?.path.replace(/^\//, '').replaceAll('/', '.') || 'requests']: { code: 'validation_invalid_value', message: first?.message ?? 'Invalid value.' },
      })
    }
    const { requests } = raw as Static<typeof BatchBody>
    if (requests.length > max) throw new ApiError('bad_request', `A batch may hold at most ${max} requests.`)
    // Counted before the transaction: a batch over a limit is refused whole (429), nothing run.
    if (opts.limiter) {
      for (const sub of requests) {
        const m = recordUrl.exec(sub.url)
        const method = sub.method.toUpperCase()
        if (!m || !batchTags[method]) continue // refused below, with its index
        const path = sub.url.split('?', 1)[0]!
        await opts.limiter.check(request, { method, path, collection: safeDecode(m[1]!), tags: [batchTags[method]!] })
      }
    }
    for (const [key, value] of files) {
      const [, index, field] = FILE_PART.exec(key)!
      const sub = requests[Number(index)]
      if (sub) sub.body = { ...sub.body, [field!]: value }
    }
    const results: { status: number; body: unknown }[] = []
    const budget = { left: BATCH_DECRYPT_BUDGET }
    // Checked before each sub-request (a statement in progress is bounded by statementTimeout).
    const deadline = live?.timeout ? Date.now() + live.timeout * 1000 : Infinity
    await opts.records.transaction(async (tx) => {
      for (const [i, sub] of requests.entries()) {
        try {
          if (Date.now() > deadline) throw new ApiError('timeout', 'The batch transaction took longer than its timeout.')
          const m = recordUrl.exec(sub.url)
          if (!m) throw new ApiError('bad_request', 'Only record create, update, upsert and delete requests can be batched.')
          const collection = decodeURIComponent(m[1]!)
          const id = m[2] === undefined ? undefined : decodeURIComponent(m[2])
          const query = Object.fromEntries(new URLSearchParams(m[3] ?? ''))
          const q = { expand: query.expand, fields: query.fields }
          const body = withoutForbiddenKeys(sub.body ?? {})
          if (opts.sensitive && sub.body) await opts.sensitive.openRecordBody(collection, body, budget)
          const info = authRequestInfo(request, request.auth ?? null, body, 'default')
          const method = sub.method.toUpperCase()
          if (method === 'POST' && id === undefined) {
            results.push({ status: 200, body: await tx.create(collection, body, info, q) })
          } else if (method === 'PATCH' && id !== undefined) {
            results.push({ status: 200, body: await tx.update(collection, id, body, info, q) })
          } else if (method === 'PUT' && id === undefined) {
            // NB: a NUL in the id cannot be queried on PostgreSQL; such an id is a create, refused by validation.
            const exists = typeof body.id === 'string' && !hasNul(body.id) && (await tx.db.selectFrom(opts.records.tableOf(collection)).select('id').where('id', '=', body.id).executeTakeFirst())
            const rec = exists ? await tx.update(collection, String(body.id), body, info, q) : await tx.create(collection, body, info, q)
            results.push({ status: 200, body: rec })
          } else if (method === 'DELETE' && id !== undefined) {
            await tx.delete(collection, id, info)
            results.push({ status: 204, body: null })
          } else {
            throw new ApiError('bad_request', `Unsupported batch request ${method} ${sub.url}.`)
          }
        } catch (err) {
          const failed = toApiError(err)
          if (failed.status >= 500) request.log.error({ err, index: i }, 'batch request failed')
          throw new ApiError('bad_request', 'Batch transaction failed.', {
            requests: { [String(i)]: { code: 'batch_request_failed', message: 'Batch request failed.', response: failed.toJSON() } },
          })
        }
      }
    })
    return results
  })
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
