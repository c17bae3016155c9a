import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { ApiError } from '../errors.ts'
import '../auth/request.ts'
import type { SubscribeOutcome } from './forward.ts'
import { sameAuth, type Realtime } from './realtime.ts'
import { MAX_SUBSCRIPTION_LENGTH, MAX_SUBSCRIPTIONS } from './subscription.ts'

export interface RealtimeApiOptions {
  realtime: Realtime
}

const SubscribeBody = Type.Object({
  clientId: Type.String({ minLength: 1, maxLength: 255 }),
  subscriptions: Type.Optional(Type.Array(Type.String({ maxLength: MAX_SUBSCRIPTION_LENGTH }), { maxItems: MAX_SUBSCRIPTIONS })),
})

/** The headers of an event stream, PocketBase's; `X-Accel-Buffering: no` keeps nginx from buffering it. */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=UTF-8',
  'cache-control': 'no-store',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
}

/**
 * PocketBase's realtime API: `GET /api/realtime` opens a client's event stream (its first event,
 * `PB_CONNECT`, carries the client id), `POST /api/realtime` replaces that client's
 * subscriptions and sets its auth (the request's), on whichever node holds its stream. Streams end when the app closes (`preClose`),
 * before Fastify waits for in-flight requests, so a stop is not held up by open streams.
 */
const notFound = () => new ApiError('not_found', 'Missing or invalid client id.')
const forbidden = () => new ApiError('forbidden', "The current and the previous request authorization don't match.")

export async function realtimeRoutes(http: FastifyInstance, opts: RealtimeApiOptions): Promise<void> {
  const { realtime } = opts
  http.addHook('preClose', async () => {
    await realtime.close()
  })

  http.get('/api/realtime', async (request, reply) => {
    const client = realtime.open(reply.raw)
    let go = false
    try {
      await realtime.hooks.connect.run({ client, request }, () => {
        go = true
      })
    } catch (err) {
      client.discard()
      throw err
    }
    if (!go) {
      client.discard()
      throw new ApiError('bad_request', 'The realtime connection was refused by a hook.')
    }
    // From here on the stream is written by hand: Fastify's serializers and hooks are done.
    reply.hijack()
    reply.raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...STREAM_HEADERS })
    realtime.register(client)
    try {
      await realtime.send(client, { name: 'PB_CONNECT', data: JSON.stringify({ clientId: client.id }) })
    } catch (err) {
      // The reply is hijacked: nothing can answer the error any more but the log.
      request.log.warn({ err }, 'realtime: PB_CONNECT could not be sent; the stream is closed')
      client.close('client')
    }
  })

  http.post<{ Body: Static<typeof SubscribeBody> }>('/api/realtime', { schema: { body: SubscribeBody } }, async (request, reply) => {
    const { clientId, subscriptions = [] } = request.body
    const client = realtime.client(clientId)
    const auth = request.auth ?? null
    // Checked here first for a client of this node, as PocketBase does; the node that has a
    // client of another node checks again (after the hooks ran here).
    if (!client && realtime.isLocal(clientId)) throw notFound()
    if (client?.auth && !sameAuth(client.auth, auth)) throw forbidden()
    let outcome = 'ok' as SubscribeOutcome
    await realtime.hooks.subscribe.run({ clientId, client, request, auth, subscriptions: [...subscriptions] }, async (e) => {
      outcome = await realtime.subscribe(e.clientId, e.auth, e.subscriptions)
    })
    if (outcome === 'not_found') throw notFound()
    if (outcome === 'forbidden') throw forbidden()
    return reply.code(204).send()
  })
}
