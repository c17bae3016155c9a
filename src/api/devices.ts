import { Type, type Static } from '@sinclair/typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { ApiError, validationError } from '../errors.ts'
import type { DeviceKeys, Owner } from '../security/signatures/devices.ts'
import '../auth/request.ts'

export interface DevicesApiOptions {
  devices: DeviceKeys
}

const Jwk = Type.Object(
  {
    kty: Type.String({ maxLength: 8 }),
    crv: Type.String({ maxLength: 16 }),
    x: Type.String({ maxLength: 200 }),
    y: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: true, maxProperties: 16 },
)
const Body = Type.Object({
  alg: Type.Union([Type.Literal('ecdsa-p256-sha256'), Type.Literal('ed25519')]),
  publicKey: Jwk,
  name: Type.Optional(Type.String({ maxLength: 100 })),
})
const Params = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

function owner(request: FastifyRequest): Owner {
  const auth = request.auth
  if (!auth) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  return { collectionId: auth.collection.id, recordId: auth.record.id }
}

/**
 * Device keys for signed requests, for the signed-in record itself:
 * `POST /api/plinth/devices` `{alg, publicKey (JWK), name?}` registers one and answers it with its
 * `keyid`; `GET` lists this record's keys; `DELETE /api/plinth/devices/{id}` removes one (404 for
 * another record's key, so ids are not probed).
 */
export const devicesRoutes: FastifyPluginAsync<DevicesApiOptions> = async (http, { devices }) => {
  http.post<{ Body: Static<typeof Body> }>('/api/plinth/devices', { schema: { body: Body } }, async (request) => {
    const who = owner(request)
    const { alg, publicKey, name } = request.body
    try {
      return await devices.register(who, alg, publicKey, name ?? '')
    } catch (err) {
      const msg = (err as Error).message
      if (msg === 'invalid key') throw validationError({ publicKey: { code: 'validation_invalid_value', message: `Must be a public ${alg} key (JWK).` } })
      if (msg === 'too many') throw new ApiError('bad_request', 'Too many device keys; remove one first.')
      throw err
    }
  })

  http.get('/api/plinth/devices', async (request) => devices.list(owner(request)))

  http.delete<{ Params: Static<typeof Params> }>('/api/plinth/devices/:id', { schema: { params: Params } }, async (request, reply) => {
    if (!(await devices.remove(owner(request), request.params.id))) throw new ApiError('not_found')
    return reply.code(204).send()
  })
}
