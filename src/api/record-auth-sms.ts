import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { tokenFromHeader } from '../auth/authenticate.ts'
import { normalizePhone, type PhoneRules } from '../auth/phone.ts'
import { findRowById, rowString, type Row } from '../auth/records.ts'
import type { SmsSignIn } from '../auth/sms-signin.ts'
import { readUnverified } from '../auth/tokens.ts'
import { ApiError, validationError } from '../errors.ts'
import { randomString } from '../records/fields/random.ts'
import type { AuthCollection } from '../records/model.ts'
import { systemRequest } from '../records/record.ts'
import { readBody } from './record-auth-body.ts'
import { authCollection, requestAuth, respondWithAuth, type AuthMethodsFiller, type RecordAuthOptions } from './record-auth-context.ts'

/**
 * Phone sign-in (Plinth's own; PocketBase has no such method):
 *
 * - `POST /api/collections/{c}/request-sms-code {phone}` -> `{smsId}`. Always that answer once the
 *   number is well-formed and the client is within its per-address and per-device limits (429
 *   otherwise): whether a code is really sent is decided by the background job (see
 *   auth/sms-signin.ts), so the answer says nothing about the number.
 * - `POST /api/collections/{c}/auth-with-sms-code {smsId, code}` -> `{token, record}`, creating
 *   the record on a number's first sign-in when `phoneAuth.allowSignUp`.
 * - Binding or changing the number of an account: the same two calls made with that account's
 *   token, which must be fresh: issued less than `FRESH_LOGIN_SECONDS` ago (a sign-in, not a
 *   refresh of an old session; a refresh issues a new token, so "fresh" means the holder proved
 *   who they are within that time by some sign-in method or refresh). Without it a stolen
 *   long-lived token could move the account to the thief's phone.
 */
export const FRESH_LOGIN_SECONDS = 15 * 60

export const RequestSmsCodeBody = Type.Object({ phone: Type.String({ minLength: 1, maxLength: 40 }) })
export const AuthWithSmsCodeBody = Type.Object({ smsId: Type.String({ minLength: 1, maxLength: 15 }), code: Type.String({ minLength: 1, maxLength: 10 }) })

export interface SmsRoutesOptions extends RecordAuthOptions {
  smsSignIn: SmsSignIn
  phone: PhoneRules
}

type Params = { collection: string }

export async function recordAuthSmsRoutes(http: FastifyInstance, opts: SmsRoutesOptions): Promise<void> {
  const enabledCollection = (request: FastifyRequest<{ Params: Params }>): AuthCollection => {
    const c = authCollection(opts, request.params.collection)
    if (!c.phoneAuth.enabled) throw new ApiError('forbidden', 'The collection is not configured to allow phone authentication.')
    return c
  }

  http.post<{ Params: Params }>('/api/collections/:collection/request-sms-code', async (request, reply) => {
    const c = enabledCollection(request)
    const body = readBody(RequestSmsCodeBody, request.body)
    const phone = await normalizePhone(body.phone, opts.phone)
    if (!phone.ok) throw validationError({ phone: phone.error })
    // A token of this collection makes it a binding, which needs a fresh sign-in; any other token is ignored.
    const auth = await requestAuth(opts, request)
    const binding = auth && auth.collection.id === c.id ? auth.record.id : undefined
    if (binding) requireFresh(request, c)
    const device = request.headers['x-device-id']
    const wait = await opts.smsSignIn.limiter.admitClient(request.ip, typeof device === 'string' ? device : undefined)
    if (wait > 0) {
      void reply.header('retry-after', String(wait))
      throw new ApiError('too_many_requests', 'Too Many Requests.')
    }
    return { smsId: await opts.smsSignIn.request(c, phone.e164, binding) }
  })

  http.post<{ Params: Params }>('/api/collections/:collection/auth-with-sms-code', async (request) => {
    const c = enabledCollection(request)
    const body = readBody(AuthWithSmsCodeBody, request.body)
    const db = opts.db().db
    let row: Row | undefined
    // A code for a number that is not its record's is a binding: only that record's own fresh session may use it.
    const { recordRef, phone } = await opts.smsSignIn.verify(c, body.smsId, body.code, async (v) => {
      row = await findRowById(db, c, v.recordRef)
      if (!row || rowString(row, 'phone') === v.phone) return
      const auth = await requestAuth(opts, request)
      if (!auth || auth.collection.id !== c.id || auth.record.id !== v.recordRef) throw new ApiError('bad_request', 'Invalid or expired SMS code.')
      requireFresh(request, c)
    })
    if (!row) {
      // First sign-in of this number: the job chose the id, and only when sign-up was allowed.
      if (!c.phoneAuth.allowSignUp) throw new ApiError('bad_request', 'Invalid or expired SMS code.')
      const password = randomString(30)
      await opts.records.create(c.name, { id: recordRef, phone, password, passwordConfirm: password }, systemRequest('authWithSms'))
      row = (await findRowById(db, c, recordRef)) as Row
    } else if (rowString(row, 'phone') !== phone) {
      await opts.records.update(c.name, recordRef, { phone }, systemRequest('authWithSms'))
      row = (await findRowById(db, c, recordRef)) as Row
    }
    return respondWithAuth(opts, request, c, row, { smsId: body.smsId }, 'sms', { method: 'sms' })
  })
}

/** The auth token of the request was issued less than FRESH_LOGIN_SECONDS ago (its expiry minus the collection's token life). */
function requireFresh(request: FastifyRequest, c: AuthCollection): void {
  const claims = readUnverified(tokenFromHeader(request.headers.authorization))
  const issued = claims ? claims.exp - c.authToken.duration : 0
  if (Date.now() / 1000 - issued > FRESH_LOGIN_SECONDS) {
    throw new ApiError('forbidden', 'Changing the phone number needs a fresh sign-in (within the last 15 minutes).')
  }
}

/** `auth-methods` reports phone sign-in as `phone: {enabled, allowSignUp, duration, length}` (a Plinth addition). */
export const phoneAuthMethods: AuthMethodsFiller = (c, report) => {
  report.phone = c.phoneAuth.enabled ? { ...c.phoneAuth } : { enabled: false, allowSignUp: false, duration: 0, length: 0 }
}
