import type { FastifyInstance } from 'fastify'
import { authMail, type AuthMailKind } from '../auth/mails.ts'
import { verifyPassword } from '../auth/password.ts'
import { findRowByEmail, findRowByToken, rowBool, rowString, type Row } from '../auth/records.ts'
import { newTokenKey, readUnverified, signRecordToken, type TokenType } from '../auth/tokens.ts'
import { INSTALLER_EMAIL } from '../auth/superusers.ts'
import { ApiError, validationError, type FieldError } from '../errors.ts'
import { randomString } from '../records/fields/random.ts'
import { findField, type AuthCollection } from '../records/model.ts'
import { systemRequest } from '../records/record.ts'
import {
  ConfirmEmailChangeBody,
  ConfirmPasswordResetBody,
  EmailBody,
  RequestEmailChangeBody,
  TokenBody,
  readBody,
} from './record-auth-body.ts'
import {
  attemptStarter,
  authCollection,
  isSuperusers,
  mailApp,
  requireSameCollectionAuth,
  ResendGuard,
  type RecordAuthOptions,
} from './record-auth-context.ts'

interface CollectionParams {
  collection: string
}

const invalidToken: FieldError = { code: 'validation_invalid_token', message: 'Invalid or expired token.' }
const otherCollection: FieldError = {
  code: 'validation_token_collection_mismatch',
  message: 'The provided token is for different auth collection.',
}

/**
 * The mail flows: verification, password reset and email change, PocketBase's paths and answers.
 * Request endpoints answer 204 whether or not the address exists (no account enumeration) and
 * send in the background; confirm endpoints check the token against the record's current tokenKey,
 * then write through the records service as the server (`systemRequest()`: no API rules, but the
 * fields' validation, the hooks and the events of any record update).
 */
export async function recordAuthFlows(http: FastifyInstance, opts: RecordAuthOptions): Promise<void> {
  const log = opts.log ?? http.log
  const guard = new ResendGuard(opts.counters, opts.resendWindowMs ?? 2 * 60_000, log)
  const app = mailApp(opts)
  const beginAttempt = attemptStarter(opts)

  /** Signs and sends one auth mail; never throws (failures are logged), like PocketBase's background send. */
  const sendInBackground = (c: AuthCollection, row: Row, kind: AuthMailKind & TokenType, resendKey: string) => {
    void (async () => {
      const email = rowString(row, 'email')
      const token = await signRecordToken(c, { id: rowString(row, 'id'), tokenKey: rowString(row, 'tokenKey'), email }, kind)
      await opts.mail.send(authMail(app, kind, email, token))
    })().catch((err: unknown) => {
      void guard.clear(resendKey)
      log.error({ err, collection: c.name, kind }, `failed to send the ${kind} mail`)
    })
  }

  const confirmToken = async (c: AuthCollection, token: string, type: TokenType) => {
    const match = await findRowByToken({ registry: opts.registry, db: opts.db().db }, token, type)
    if (!match) throw validationError({ token: invalidToken })
    if (match.collection.id !== c.id) throw validationError({ token: otherCollection })
    return match
  }

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/request-verification', async (request, reply) => {
    const c = authCollection(opts, request.params.collection)
    if (isSuperusers(c)) throw new ApiError('bad_request', 'All superusers are verified by default.')
    const { email } = readBody(EmailBody, request.body)
    const row = await findRowByEmail(opts.db().db, c, email)
    if (row && !rowBool(row, 'verified')) {
      const key = `verification:${c.id}:${rowString(row, 'id')}`
      if (await guard.take(key)) sendInBackground(c, row, 'verification', key)
    }
    return reply.code(204).send()
  })

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/confirm-verification', async (request, reply) => {
    const c = authCollection(opts, request.params.collection)
    if (isSuperusers(c)) throw new ApiError('bad_request', 'All superusers are verified by default.')
    const { token } = readBody(TokenBody, request.body)
    const claimed = readUnverified(token)?.email
    if (!claimed) throw validationError({ token: { code: 'validation_invalid_token_claims', message: 'Missing email token claim.' } })
    const { row } = await confirmToken(c, token, 'verification')
    if (rowString(row, 'email') !== claimed) {
      throw validationError({
        token: { code: 'validation_token_email_mismatch', message: "The record email doesn't match with the requested token claims." },
      })
    }
    if (!rowBool(row, 'verified')) {
      // Without password auth, a verified account must not keep a password set before it was
      // verified (pre-hijacking), so PocketBase replaces it with a random one (which, as any
      // password change, also rotates the tokenKey).
      const field = findField(c, 'password')
      const [min, max] = field?.type === 'password' ? [field.min, field.max || 71] : [0, 71]
      const password = c.passwordAuth.enabled ? undefined : randomString(Math.min(Math.max(30, min), max))
      await opts.records.update(c.name, rowString(row, 'id'), { verified: true, ...(password ? { password, passwordConfirm: password } : {}) }, systemRequest())
    }
    await guard.clear(`verification:${c.id}:${rowString(row, 'id')}`)
    return reply.code(204).send()
  })

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/request-password-reset', async (request, reply) => {
    const c = authCollection(opts, request.params.collection)
    if (!c.passwordAuth.enabled) throw new ApiError('bad_request', 'The collection is not configured to allow password authentication.')
    const { email } = readBody(EmailBody, request.body)
    const row = await findRowByEmail(opts.db().db, c, email)
    // The installer superuser only exists to create the first real one; it cannot be taken over by mail.
    if (row && !(isSuperusers(c) && rowString(row, 'email') === INSTALLER_EMAIL)) {
      const key = `passwordReset:${c.id}:${rowString(row, 'id')}`
      if (await guard.take(key)) sendInBackground(c, row, 'passwordReset', key)
    }
    return reply.code(204).send()
  })

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/confirm-password-reset', async (request, reply) => {
    const c = authCollection(opts, request.params.collection)
    const body = readBody(ConfirmPasswordResetBody, request.body)
    const errors: Record<string, FieldError> = {}
    const field = findField(c, 'password')
    const min = field?.type === 'password' && field.min > 0 ? field.min : 1
    const max = field?.type === 'password' && field.max > 0 ? Math.min(field.max, 255) : 255
    if (body.password.length < min || body.password.length > max) {
      errors.password = { code: 'validation_length_out_of_range', message: `The length must be between ${min} and ${max}.` }
    } else if (field?.type === 'password' && field.pattern && !new RegExp(field.pattern).test(body.password)) {
      errors.password = { code: 'validation_invalid_format', message: 'Must be in a valid format.' }
    }
    if (body.passwordConfirm !== body.password) errors.passwordConfirm = { code: 'validation_values_mismatch', message: "Values don't match." }
    if (Object.keys(errors).length) throw validationError(errors)
    const { row, claims } = await confirmToken(c, body.token, 'passwordReset')
    const id = rowString(row, 'id')
    // A reset link proves control of the address it was sent to: verify it if unchanged since.
    // The new password rotates the tokenKey (every older token stops working), as on any update;
    // the field's own rules (length, pattern) are checked there too, as PocketBase does on save.
    const verify = !rowBool(row, 'verified') && claims.email === rowString(row, 'email')
    const changes = { password: body.password, passwordConfirm: body.password, ...(verify ? { verified: true } : {}) }
    await opts.records.update(c.name, id, changes, systemRequest())
    await guard.clear(`passwordReset:${c.id}:${id}`)
    return reply.code(204).send()
  })

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/request-email-change', async (request, reply) => {
    const c = authCollection(opts, request.params.collection)
    if (isSuperusers(c)) throw new ApiError('bad_request', 'All superusers can change their emails directly.')
    const auth = await requireSameCollectionAuth(opts, request, c)
    const { newEmail } = readBody(RequestEmailChangeBody, request.body)
    const db = opts.db().db
    const row = (await db.selectFrom(c.name).selectAll().where('id', '=', auth.record.id).executeTakeFirst()) as Row | undefined
    if (!row) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
    if (newEmail === rowString(row, 'email')) throw validationError({ newEmail: { code: 'validation_not_in_invalid', message: 'Must be a valid value.' } })
    const taken = await findRowByEmail(db, c, newEmail)
    if (taken && rowString(taken, 'id') !== rowString(row, 'id')) {
      throw validationError({ newEmail: { code: 'validation_invalid_new_email', message: 'Invalid new email address.' } })
    }
    const email = rowString(row, 'email')
    const token = await signRecordToken(c, { id: rowString(row, 'id'), tokenKey: rowString(row, 'tokenKey'), email }, 'emailChange', { newEmail })
    try {
      // Sent to the NEW address: following the link proves the caller owns it.
      await opts.mail.send(authMail(app, 'emailChange', newEmail, token))
    } catch (err) {
      log.error({ err, collection: c.name }, 'failed to send the emailChange mail')
      throw new ApiError('bad_request', 'Failed to request email change.')
    }
    return reply.code(204).send()
  })

  // NB: the password asked here is what stops someone holding a stolen session token from moving
  // the account to an address they own; it is throttled like a login (same identity key: the
  // account's email), or the stolen session could guess the password here without limit.
  http.post<{ Params: CollectionParams }>('/api/collections/:collection/confirm-email-change', async (request, reply) => {
    const c = authCollection(opts, request.params.collection)
    if (isSuperusers(c)) throw new ApiError('bad_request', 'All superusers can change their emails directly.')
    const body = readBody(ConfirmEmailChangeBody, request.body)
    const newEmail = readUnverified(body.token)?.newEmail
    if (!newEmail) {
      throw validationError({ token: { code: 'validation_invalid_token_payload', message: 'Invalid token payload - newEmail must be set.' } })
    }
    const { row } = await confirmToken(c, body.token, 'emailChange')
    const db = opts.db().db
    if (await findRowByEmail(db, c, newEmail)) {
      throw validationError({ token: { code: 'validation_invalid_token_email', message: 'The new email address is invalid.' } })
    }
    const attempt = await beginAttempt(request, c, rowString(row, 'email'))
    if (!(await verifyPassword(body.password, rowString(row, 'password')))) {
      throw validationError({ password: { code: 'validation_invalid_password', message: 'Missing or invalid auth record password.' } })
    }
    await attempt.succeeded()
    // NB: a new email rotates the tokenKey (PocketBase's rule): sessions made for the old address end.
    await opts.records.update(c.name, rowString(row, 'id'), { email: newEmail, verified: true, tokenKey: newTokenKey() }, systemRequest())
    return reply.code(204).send()
  })
}
