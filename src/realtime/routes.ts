import type { IncomingMessage, ServerResponse } from 'node:http'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import { REQUEST_MSG } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import '../auth/request.ts'
import type { SubscribeOutcome } from './forward.ts'
import { sameAuth, type Realtime } from './realtime.ts'
import { MAX_SUBSCRIPTION_LENGTH, MAX_SUBSCRIPTIONS } from './subscription.ts'

export interface RealtimeApiOptions {
  realtime: Realtime
  metrics: Pick<Metrics, 'observeRequest'>
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
 * A stream's request line and request metrics, once, when the stream closes (whoever closes it),
 * with its whole duration; the same line as any request's (api/request-log.ts).
 *
 * NB: Fastify writes them from a `finish`/`error` listener of its own (`onResFinished`), which
 * for a stream is wrong twice: it holds the request, the reply and their child loggers for the
 * stream's whole life (about 1 KB a stream), and `finish` never comes when the client goes away
 * (the usual end), so most streams were never logged. That listener is removed here, found by
 * its name; test/realtime/realtime-node.test.ts fails (two lines) if Fastify renames it.
 * The closure keeps a few strings, not the request.
 */
function logWhenClosed(http: FastifyInstance, request: FastifyRequest, reply: FastifyReply, metrics: RealtimeApiOptions['metrics']): void {
  const res: ServerResponse = reply.raw
  for (const event of ['finish', 'error'] as const) {
    for (const listener of res.listeners(event)) if (listener.name === 'onResFinished') res.removeListener(event, listener as () => void)
  }
  const started = performance.now() - reply.elapsedTime
  const { id: reqId, method, url } = request
  const route = request.routeOptions.url ?? url
  const auth = request.auth?.collection.name
  const authId = request.auth?.record.id
  // `on`, not `once`: 'close' comes once, and `once` adds a wrapper and its state to every stream.
  res.on('close', () => {
    const ms = performance.now() - started
    metrics.observeRequest(method, route, res.statusCode, ms)
    http.log.info({ reqId, method, url, status: res.statusCode, ms: Math.round(ms * 100) / 100, auth, authId }, REQUEST_MSG)
  })
}

/**
 * Node keeps a response's head (`_header`) for the response's life, as it built it: a tree of a
 * few dozen small strings joined one header at a time (~1 KB for a stream's). Matching a regular
 * expression against it makes V8 flatten it in place into one string of ~300 bytes, and the tree
 * goes to the garbage collector. NB: `_header` is Node's private field; it is only read here, and
 * if it is missing or not a string nothing happens (the stream just costs that 1 KB more).
 */
function flattenHead(res: ServerResponse): void {
  const head = (res as unknown as { _header?: unknown })._header
  if (typeof head === 'string') HEAD_END.test(head)
}
const HEAD_END = /\r\n\r\n$/

/**
 * Nothing reads a stream's request headers once it is open (the connect hook had them, the
 * request line keeps what it logs), but Node keeps them twice (`rawHeaders` and `headers`) for
 * the stream's life: a browser's come to ~1 KB a stream, more with cookies. Both are public,
 * writable properties of the request; emptied here.
 */
function releaseHeaders(req: IncomingMessage): void {
  req.headers = {}
  req.rawHeaders = []
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
  const { realtime, metrics } = opts
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
    flattenHead(reply.raw)
    logWhenClosed(http, request, reply, metrics)
    releaseHeaders(request.raw)
    realtime.register(client)
    try {
      await realtime.send(client, { name: 'PB_CONNECT', data: JSON.stringify({ clientId: client.id }) })
    } catch (err) {
      // The reply is hijacked: nothing can answer the error any more but the log.
      http.log.warn({ err, reqId: request.id }, 'realtime: PB_CONNECT could not be sent; the stream is closed')
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
