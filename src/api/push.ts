import { Type, type Static } from '@sinclair/typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { DeviceOwner } from '../push/devices.ts'
import { DeviceSchema, PushSendSchema, type DeviceBody, type PushSendInput } from '../push/schema.ts'
import type { PushService } from '../push/service.ts'
import '../auth/request.ts'

export interface PushApiOptions {
  push: PushService
  log: Pick<Logger, 'error'>
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

function owner(request: FastifyRequest): DeviceOwner {
  const auth = request.auth
  if (!auth) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  return { collectionId: auth.collection.id, recordId: auth.record.id }
}

function requireSuperuser(request: FastifyRequest): void {
  if (!request.auth) throw new ApiError('unauthorized')
  if (!request.auth.isSuperuser) throw new ApiError('forbidden', 'Only superusers can perform this action.')
}

/**
 * Push over HTTP:
 * - `POST /api/plinth/devices/push` `{platform, token, topic?, locale?, appVersion?}`: the
 *   signed-in record registers this device (a token known under another record moves to it);
 *   `GET` lists the record's devices; `DELETE /api/plinth/devices/push/{id}` removes one (sign-out).
 *   Beside `/api/plinth/devices` (signing keys) rather than in it: a push token is not a key, is
 *   replaced by the OS at will, and moves between accounts, where a signing key never does.
 * - `POST /api/plinth/push` (superusers): the body of `app.push.send`; answers `{id}` at once.
 *   `GET /api/plinth/push/{id}`: how far it got.
 * - `GET|POST /api/plinth/rongcloud/token`: a RongCloud token for the signed-in record's SDK
 *   (`push` must list `rongcloud://`), its user id being the record id.
 */
export const pushRoutes: FastifyPluginAsync<PushApiOptions> = async (http, { push, log }) => {
  http.post<{ Body: DeviceBody }>('/api/plinth/devices/push', { schema: { body: DeviceSchema } }, async (request) => push.devices.register(owner(request), request.body))
  http.get('/api/plinth/devices/push', async (request) => push.devices.list(owner(request)))
  http.delete<{ Params: Static<typeof IdParams> }>('/api/plinth/devices/push/:id', { schema: { params: IdParams } }, async (request, reply) => {
    if (!(await push.devices.remove(owner(request), request.params.id))) throw new ApiError('not_found')
    return reply.code(204).send()
  })

  http.post<{ Body: PushSendInput }>('/api/plinth/push', { schema: { body: PushSendSchema } }, async (request) => {
    requireSuperuser(request)
    return push.send(request.body)
  })
  http.get<{ Params: Static<typeof IdParams> }>('/api/plinth/push/:id', { schema: { params: IdParams } }, async (request) => {
    requireSuperuser(request)
    const status = await push.status(request.params.id)
    if (!status) throw new ApiError('not_found')
    return status
  })

  const rongcloudToken = async (request: FastifyRequest) => {
    const auth = request.auth
    if (!auth) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
    const rc = push.rongcloud
    if (!rc) throw new ApiError('not_found', 'RongCloud is not configured.')
    const r = auth.record as Record<string, unknown>
    const name = [r.name, r.username, r.email].find((v): v is string => typeof v === 'string' && v !== '') ?? auth.record.id
    try {
      return { userId: auth.record.id, token: await rc.userToken(auth.record.id, name.slice(0, 64)) }
    } catch (err) {
      log.error({ err }, 'push: rongcloud token refused')
      throw new ApiError('unavailable', 'RongCloud did not issue a token.')
    }
  }
  http.get('/api/plinth/rongcloud/token', rongcloudToken)
  http.post('/api/plinth/rongcloud/token', rongcloudToken)
}
