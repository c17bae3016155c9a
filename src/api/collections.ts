import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import type { CollectionStore } from '../records/collections/store.ts'
import { newCollection } from '../records/collections/defaults.ts'
import { collectionToJson } from '../records/collections/serialize.ts'
import { assignFieldIds } from '../records/fields/definition.ts'
import { randomString, ID_ALPHABET } from '../records/fields/random.ts'
import type { Collection } from '../records/model.ts'

export interface CollectionsApiOptions {
  store: CollectionStore
  /**
   * true: a superuser; false: another authenticated record (403), or a guest when the request has
   * no Authorization header (401); null: no valid auth (401).
   */
  isSuperuser: (request: FastifyRequest) => Promise<boolean | null> | boolean | null
}

const LIST_FIELDS = ['id', 'created', 'updated', 'name', 'system', 'type'] as const
type ListField = (typeof LIST_FIELDS)[number]

const ListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1 })),
  perPage: Type.Optional(Type.Integer({ minimum: 0 })),
  sort: Type.Optional(Type.String({ maxLength: 1000 })),
  filter: Type.Optional(Type.String({ maxLength: 3500 })),
  skipTotal: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
})
const Params = Type.Object({ collection: Type.String({ minLength: 1, maxLength: 255 }) })
const Body = Type.Object({}, { additionalProperties: true })
const ImportBody = Type.Object({ collections: Type.Optional(Type.Unknown()), deleteMissing: Type.Optional(Type.Boolean()) }, { additionalProperties: true })

function listValue(c: Collection, f: ListField): string | boolean {
  return c[f]
}

/**
 * `filter` on the collections list: `field op value` terms joined by `&&` or `||` (`&&` binds
 * tighter), fields id/created/updated/name/system/type, ops `= != ~ !~`, values quoted strings
 * or true/false. Enough for the SDK and admin screens; the full filter language is for records.
 */
function compileListFilter(expr: string): (c: Collection) => boolean {
  if (!expr.trim()) return () => true
  const term = /^\s*(\w+)\s*(!=|!~|=|~)\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(true|false))\s*$/
  const ors = expr.split('||').map((part) =>
    part.split('&&').map((t) => {
      const m = term.exec(t)
      if (!m || !(LIST_FIELDS as readonly string[]).includes(m[1]!)) throw new ApiError('invalid_filter', 'Invalid filter parameters.')
      const field = m[1] as ListField
      const op = m[2]!
      const raw = m[5] ?? (m[3] ?? m[4] ?? '').replace(/\\(.)/g, '$1')
      return (c: Collection) => {
        const v = String(listValue(c, field))
        const like = v.toLowerCase().includes(raw.toLowerCase())
        return op === '=' ? v === raw : op === '!=' ? v !== raw : op === '~' ? like : !like
      }
    }),
  )
  return (c) => ors.some((and) => and.every((t) => t(c)))
}

function compileListSort(sort: string | undefined): (a: Collection, b: Collection) => number {
  const keys = (sort ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const desc = s.startsWith('-')
    const name = s.replace(/^[-+]/, '')
    if (!(LIST_FIELDS as readonly string[]).includes(name)) throw new ApiError('bad_request', `Invalid sort field "${name}".`)
    return { name: name as ListField, desc }
  })
  return (a, b) => {
    for (const k of keys) {
      const x = String(listValue(a, k.name))
      const y = String(listValue(b, k.name))
      if (x !== y) return (x < y ? -1 : 1) * (k.desc ? -1 : 1)
    }
    return 0
  }
}

/** PocketBase's `/api/collections` endpoints; superusers only. */
export async function collectionsRoutes(http: FastifyInstance, opts: CollectionsApiOptions): Promise<void> {
  const { store } = opts
  // Per route rather than a plugin hook, so the check stays on these routes even if the plugin is
  // ever registered without encapsulation.
  const onlySuperusers = async (request: FastifyRequest): Promise<void> => {
    const who = await opts.isSuperuser(request)
    if (who === true) return
    if (who === false && request.headers.authorization) throw new ApiError('forbidden', 'The authorized record is not allowed to perform this action.')
    throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  }

  http.get('/api/collections', { onRequest: onlySuperusers, schema: { querystring: ListQuery } }, async (request) => {
    const q = request.query as { page?: number; perPage?: number; sort?: string; filter?: string; skipTotal?: boolean | string }
    const page = q.page ?? 1
    const perPage = Math.min(q.perPage || 30, 1000)
    const items = store.all().filter(compileListFilter(q.filter ?? '')).sort(compileListSort(q.sort))
    const skipTotal = q.skipTotal === true || q.skipTotal === 'true' || q.skipTotal === '1'
    const total = skipTotal ? -1 : items.length
    return {
      page,
      perPage,
      totalItems: total,
      totalPages: skipTotal ? -1 : Math.ceil(items.length / perPage),
      items: items.slice((page - 1) * perPage, page * perPage).map(collectionToJson),
    }
  })

  http.get('/api/collections/meta/scaffolds', { onRequest: onlySuperusers }, async () => {
    const id = randomString(10, ID_ALPHABET) // feeds the default index names, as in PocketBase
    const out: Record<string, unknown> = {}
    for (const type of ['auth', 'base', 'view'] as const) {
      const c = newCollection(type, '', id)
      assignFieldIds(c.fields)
      c.id = ''
      out[type] = collectionToJson(c)
    }
    return out
  })

  http.get('/api/collections/:collection', { onRequest: onlySuperusers, schema: { params: Params } }, async (request) => {
    const c = store.get((request.params as { collection: string }).collection)
    if (!c) throw new ApiError('not_found')
    return collectionToJson(c)
  })

  http.post('/api/collections', { onRequest: onlySuperusers, schema: { body: Body } }, async (request) => {
    const body = request.body as Record<string, unknown>
    return collectionToJson(await store.create(body))
  })

  http.patch('/api/collections/:collection', { onRequest: onlySuperusers, schema: { params: Params, body: Body } }, async (request) => {
    const key = (request.params as { collection: string }).collection
    if (!store.get(key)) throw new ApiError('not_found')
    return collectionToJson(await store.update(key, request.body as Record<string, unknown>))
  })

  http.delete('/api/collections/:collection', { onRequest: onlySuperusers, schema: { params: Params } }, async (request, reply) => {
    const key = (request.params as { collection: string }).collection
    if (!store.get(key)) throw new ApiError('not_found')
    await store.delete(key)
    return reply.code(204).send()
  })

  http.delete('/api/collections/:collection/truncate', { onRequest: onlySuperusers, schema: { params: Params } }, async (request, reply) => {
    const key = (request.params as { collection: string }).collection
    if (!store.get(key)) throw new ApiError('not_found')
    await store.truncate(key)
    return reply.code(204).send()
  })

  http.put('/api/collections/import', { onRequest: onlySuperusers, schema: { body: ImportBody } }, async (request, reply) => {
    const body = request.body as { collections?: unknown; deleteMissing?: boolean }
    if (!Array.isArray(body.collections) || body.collections.length === 0) {
      throw new ApiError('validation_failed', 'An error occurred while validating the submitted data.', {
        collections: { code: 'validation_required', message: 'Cannot be blank.' },
      })
    }
    await store.import(body.collections, body.deleteMissing === true)
    return reply.code(204).send()
  })
}
