import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { findRowById, rowString } from '../auth/records.ts'
import { signRecordToken } from '../auth/tokens.ts'
import { ApiError } from '../errors.ts'
import { readBody } from './record-auth-body.ts'
import { authCollection, requestAuth, respondWithAuth, type RecordAuthOptions } from './record-auth-context.ts'

/** Up to PocketBase's longest token duration (~3 years), in seconds; 0 = the collection's authToken duration. */
const ImpersonateBody = Type.Object({ duration: Type.Optional(Type.Integer({ minimum: 0, maximum: 94670856 })) })

/**
 * `POST /api/collections/:collection/impersonate/:id`, superusers only (403 for anyone else,
 * checked first): an auth token for that record which auth-refresh will not renew (`refreshable:
 * false`), valid `duration` seconds. No MFA and no login alert: the superuser is not the record.
 */
export async function recordAuthImpersonate(http: FastifyInstance, opts: RecordAuthOptions): Promise<void> {
  http.post<{ Params: { collection: string; id: string } }>('/api/collections/:collection/impersonate/:id', async (request) => {
    const auth = await requestAuth(opts, request)
    if (!auth?.isSuperuser) throw new ApiError('forbidden', 'The authorized record is not allowed to perform this action.')
    const c = authCollection(opts, request.params.collection)
    const row = await findRowById(opts.db().db, c, request.params.id)
    if (!row) throw new ApiError('not_found')
    const { duration } = readBody(ImpersonateBody, request.body)
    const token = await signRecordToken(c, { id: rowString(row, 'id'), tokenKey: rowString(row, 'tokenKey') }, 'auth', {
      refreshable: false,
      duration: duration || c.authToken.duration,
    })
    return respondWithAuth(opts, request, c, row, {}, 'default', { token })
  })
}
