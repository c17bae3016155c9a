import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import '../auth/request.ts'
import type { Im } from './hub.ts'

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })
const IdParams = Type.Object({ id: Id })
const MemberParams = Type.Object({ id: Id, user: Id })
const CreateBody = Type.Union([
  Type.Object({ kind: Type.Literal('direct'), user: Id }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('group'), name: Type.String({ maxLength: 200 }), members: Type.Array(Id, { maxItems: 1000 }) }, { additionalProperties: false }),
])
const MembersBody = Type.Object({ users: Type.Array(Id, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false })
const MuteBody = Type.Object({ muted: Type.Boolean() }, { additionalProperties: false })
const PageQuery = Type.Object({ page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })), perPage: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) })
const HistoryQuery = Type.Object({ before: Type.Optional(Type.Integer({ minimum: 1 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) })

/** The signed-in record (any auth collection but superusers: they have no IM identity), or 401. */
function who(request: FastifyRequest): { user: string; collection: string } {
  const auth = request.auth
  if (!auth || auth.isSuperuser) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  return { user: auth.record.id, collection: auth.collection.name }
}

/**
 * IM over REST beside the socket: conversations (create, list with unread counts), group members,
 * mute, and history pages by seq cursor (`before` = the smallest seq a page had; newest first).
 */
export async function imRoutes(http: FastifyInstance, opts: { im: Im; stop: () => void }): Promise<void> {
  const { im } = opts
  const store = im.store
  http.addHook('preClose', async () => {
    opts.stop()
    await im.close()
  })

  /** Users that exist in the caller's auth collection, or a 400 naming the first that does not. */
  const mustExist = async (collection: string, users: string[]) => {
    if (users.length === 0) return
    const found = new Set((await im.deps.store.usersIn(collection, users)).map(String))
    const missing = users.find((u) => !found.has(u))
    if (missing) throw new ApiError('validation_failed', 'Failed to validate the submitted data.', { users: { code: 'validation_missing_rel_records', message: `Unknown user ${missing}.` } })
  }

  /** A `members` frame to the group's members now and those just removed, on every node. */
  const tellMembers = async (conversation: string, by: string, added: string[], removed: string[]) => {
    const members = (await store.members(conversation)).map((m) => m.user)
    await im.sendTo([...members, ...removed], { type: 'members', conversation, by, added, removed })
  }

  http.get<{ Querystring: Static<typeof PageQuery> }>('/api/plinth/im/conversations', { schema: { querystring: PageQuery } }, async (request) => {
    const { user } = who(request)
    const page = request.query.page ?? 1
    const perPage = request.query.perPage ?? 50
    return { page, perPage, items: await store.conversationsOf(user, page, perPage) }
  })

  http.post<{ Body: Static<typeof CreateBody> }>('/api/plinth/im/conversations', { schema: { body: CreateBody } }, async (request) => {
    const { user, collection } = who(request)
    const body = request.body
    if (body.kind === 'direct') {
      await mustExist(collection, [body.user])
      return store.direct(user, body.user)
    }
    const members = [...new Set(body.members)].filter((u) => u !== user)
    await mustExist(collection, members)
    return { id: await store.group(user, body.name, members), created: true }
  })

  http.post<{ Params: Static<typeof IdParams>; Body: Static<typeof MembersBody> }>(
    '/api/plinth/im/conversations/:id/members',
    { schema: { params: IdParams, body: MembersBody } },
    async (request) => {
      const { user, collection } = who(request)
      await mustExist(collection, [...new Set(request.body.users)])
      const added = await store.addMembers(user, request.params.id, request.body.users)
      im.forgetMembers(request.params.id)
      if (added.length) await tellMembers(request.params.id, user, added, [])
      return { added }
    },
  )

  http.delete<{ Params: Static<typeof MemberParams> }>('/api/plinth/im/conversations/:id/members/:user', { schema: { params: MemberParams } }, async (request, reply) => {
    const { user } = who(request)
    await store.removeMember(user, request.params.id, request.params.user)
    im.forgetMembers(request.params.id)
    await tellMembers(request.params.id, user, [], [request.params.user])
    return reply.code(204).send()
  })

  http.post<{ Params: Static<typeof IdParams>; Body: Static<typeof MuteBody> }>(
    '/api/plinth/im/conversations/:id/mute',
    { schema: { params: IdParams, body: MuteBody } },
    async (request, reply) => {
      const { user } = who(request)
      await store.setMuted(request.params.id, user, request.body.muted)
      im.forgetMembers(request.params.id)
      return reply.code(204).send()
    },
  )

  http.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof HistoryQuery> }>(
    '/api/plinth/im/conversations/:id/messages',
    { schema: { params: IdParams, querystring: HistoryQuery } },
    async (request) => {
      const { user } = who(request)
      await store.memberOf(request.params.id, user)
      const limit = request.query.limit ?? 50
      const items = await store.before(request.params.id, request.query.before ?? Number.MAX_SAFE_INTEGER, limit)
      const last = items.at(-1)
      return { items, before: items.length === limit && last && last.seq > 1 ? last.seq : null }
    },
  )
}
