import type { FastifyInstance } from 'fastify'
import { dummyHash, verifyPassword } from '../auth/password.ts'
import { findRowByIdentity, rowString, type Row } from '../auth/records.ts'
import { readUnverified, signRecordToken } from '../auth/tokens.ts'
import { tokenFromHeader } from '../auth/authenticate.ts'
import { ApiError, validationError } from '../errors.ts'
import { AuthWithPasswordBody, isEmail, readBody } from './record-auth-body.ts'
import {
  attemptStarter,
  authCollection,
  authMethodsReport,
  requireSameCollectionAuth,
  respondWithAuth,
  type RecordAuthOptions,
} from './record-auth-context.ts'
import { recordAuthFlows } from './record-auth-flows.ts'
import { recordAuthImpersonate } from './record-auth-impersonate.ts'
import { recordAuthOtp } from './record-auth-otp.ts'
import { ALLOW } from '../records/records-rules.ts'
import { viewById } from '../records/statements.ts'
import type { Collection } from '../records/model.ts'

export type { RecordAuthOptions } from './record-auth-context.ts'

interface CollectionParams {
  collection: string
}

/**
 * PocketBase's record auth API for auth collections (`_superusers` included):
 * `GET  /api/collections/:collection/auth-methods`,
 * `POST /api/collections/:collection/auth-with-password`, `/auth-refresh`,
 * and the mail flows in `record-auth-flows.ts`.
 */
export async function recordAuthRoutes(http: FastifyInstance, opts: RecordAuthOptions): Promise<void> {
  const beginAttempt = attemptStarter(opts)
  http.get<{ Params: CollectionParams }>('/api/collections/:collection/auth-methods', async (request) => {
    const c = authCollection(opts, request.params.collection)
    const report = authMethodsReport(c)
    // Other sign-in features (OAuth2 providers, SMS) fill in their part.
    for (const fill of opts.authMethods ?? []) await fill(c, report, request)
    return report
  })

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/auth-with-password', async (request) => {
    const c = authCollection(opts, request.params.collection)
    if (!c.passwordAuth.enabled) throw new ApiError('forbidden', 'The collection is not configured to allow password authentication.')
    const body = readBody(AuthWithPasswordBody, request.body)
    if (body.identityField && !c.passwordAuth.identityFields.includes(body.identityField)) {
      throw validationError({ identityField: { code: 'validation_in_invalid', message: 'Must be a valid value.' } })
    }
    // Counted before the lookup: a locked identity is refused even with the right password (no oracle).
    const attempt = await beginAttempt(request, c, body.identity)
    const db = opts.db().db
    let row: Row | undefined
    if (body.identityField) {
      row = await findRowByIdentity(db, c, body.identityField, body.identity)
    } else {
      // email first, as PocketBase does, and only when the identity looks like one (saves a query).
      const fields = [...c.passwordAuth.identityFields].sort((a, b) => Number(b === 'email') - Number(a === 'email'))
      for (const field of fields) {
        if (field === 'email' && !isEmail(body.identity)) continue
        row = await findRowByIdentity(db, c, field, body.identity)
        if (row) break
      }
    }
    // Same work whether or not the identity exists, so timing does not tell which part was wrong.
    const ok = await verifyPassword(body.password, row ? rowString(row, 'password') : await dummyHash())
    if (!row || !ok) throw new ApiError('bad_request', 'Failed to authenticate.')
    await attempt.succeeded()
    return respondWithAuth(opts, request, c, row, { identity: body.identity, identityField: body.identityField ?? '' }, 'password', { method: 'password' })
  })

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/auth-refresh', async (request) => {
    const c = authCollection(opts, request.params.collection)
    const auth = await requireSameCollectionAuth(opts, request, c)
    const token = tokenFromHeader(request.headers.authorization)
    const row = await reload(opts, c, auth.record.id)
    // Static tokens (installer, impersonation) are not renewed: the same token comes back.
    const renew = readUnverified(token)?.refreshable === true
    const issued = renew ? await signRecordToken(c, { id: auth.record.id, tokenKey: rowString(row, 'tokenKey') }, 'auth') : token
    return respondWithAuth(opts, request, c, row, {}, 'default', { token: issued })
  })

  await http.register(recordAuthFlows, opts)
  await http.register(recordAuthOtp, opts)
  await http.register(recordAuthImpersonate, opts)
}

/** The auth record as stored now (its kept by-id statement: no rule, the caller is that record). */
async function reload(opts: RecordAuthOptions, c: Collection, id: string): Promise<Row> {
  const engine = opts.db()
  const [row] = await engine.query<Row>(viewById(engine.db, c, ALLOW, id))
  if (!row) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  return row
}
