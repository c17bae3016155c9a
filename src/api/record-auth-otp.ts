import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { templateMail } from '../auth/mails.ts'
import { hashPassword, verifyPassword } from '../auth/password.ts'
import { findRowByEmail, findRowById, rowBool, rowString, type Row } from '../auth/records.ts'
import { INSTALLER_EMAIL } from '../auth/superusers.ts'
import { TooManyAttempts } from '../auth/throttle.ts'
import { ApiError } from '../errors.ts'
import { OTPS } from '../records/collections/auth-system.ts'
import { findField, toDbDate, type AuthCollection } from '../records/model.ts'
import { generateRecordId, randomString } from '../records/fields/random.ts'
import { systemRequest } from '../records/record.ts'
import { EmailBody, readBody } from './record-auth-body.ts'
import { authCollection, isSuperusers, mailApp, respondWithAuth, type RecordAuthOptions } from './record-auth-context.ts'
import { expired } from './record-auth-mfa.ts'

interface CollectionParams {
  collection: string
}

const AuthWithOtpBody = Type.Object({
  otpId: Type.String({ minLength: 1, maxLength: 255 }),
  password: Type.String({ minLength: 1, maxLength: 71 }),
})

/** Unexpired codes a record may hold before new requests get the last one again (PocketBase's 10). */
const MAX_RECENT_OTPS = 10

/** The one answer for every way an OTP can be wrong: which way is not told (PocketBase's wording). */
const invalidOtp = () => new ApiError('bad_request', 'Invalid or expired OTP')

/**
 * Issues a one-time code for a record into `_otps` (hashed by its password field) and returns its
 * id and the plain code, for the caller to deliver to `sentTo` (an email address here; the SMS
 * feature passes a phone number). Expired codes of the record are cleared on the way. Past
 * MAX_RECENT_OTPS live codes it issues none and returns the newest one's id with no code: the
 * caller sends nothing then (PocketBase's flood guard).
 */
export async function issueOtp(opts: RecordAuthOptions, c: AuthCollection, recordId: string, sentTo: string, length: number, duration: number): Promise<{ id: string; code?: string }> {
  const db = opts.db().db
  const cutoff = toDbDate(new Date(Date.now() - duration * 1000))
  await db.deleteFrom(OTPS).where('collectionRef', '=', c.id).where('recordRef', '=', recordId).where('created', '<', cutoff).execute()
  const recent = (await db
    .selectFrom(OTPS)
    .select(['id', 'created'])
    .where('collectionRef', '=', c.id)
    .where('recordRef', '=', recordId)
    .orderBy('created', 'desc')
    .limit(MAX_RECENT_OTPS)
    .execute()) as Row[]
  if (recent.length >= MAX_RECENT_OTPS) return { id: rowString(recent[0]!, 'id') }
  const code = randomString(length, '0123456789')
  const created = await opts.records.create(OTPS, { collectionRef: c.id, recordRef: recordId, password: code, sentTo }, systemRequest())
  return { id: created.id, code }
}

/**
 * Checks a code against its `_otps` row and uses it up: of this collection, not older than
 * `duration` seconds, at most the throttle's per-identity failures per record (then 429 until the
 * window ends), and one conditional delete so two requests racing with the right code cannot both
 * pass. Returns the record's row and where the code was sent.
 */
export async function consumeOtp(
  opts: RecordAuthOptions,
  request: FastifyRequest,
  c: AuthCollection,
  otpId: string,
  password: string,
  duration: number,
): Promise<{ row: Row; sentTo: string }> {
  const db = opts.db().db
  const otp = (await db.selectFrom(OTPS).selectAll().where('id', '=', otpId).limit(1).executeTakeFirst()) as Row | undefined
  if (!otp || rowString(otp, 'collectionRef') !== c.id || expired(otp, duration)) throw invalidOtp()
  const row = await findRowById(db, c, rowString(otp, 'recordRef'))
  if (!row) throw invalidOtp()
  // Codes are short digit strings: wrong tries are counted per record (and per address) like passwords.
  let attempt
  try {
    attempt = await opts.throttle.begin(c.id, `otp:${rowString(row, 'id')}`, request.ip)
  } catch (err) {
    if (err instanceof TooManyAttempts) throw new TooManyAttempts(err.retryAfterSeconds, 'Too many attempts, please try again later with a new OTP.')
    throw err
  }
  if (!(await verifyPassword(password, rowString(otp, 'password')))) throw invalidOtp()
  const gone = await db.deleteFrom(OTPS).where('id', '=', otpId).executeTakeFirst()
  if (Number(gone.numDeletedRows) !== 1) throw invalidOtp()
  await attempt.succeeded()
  return { row, sentTo: rowString(otp, 'sentTo') }
}

/**
 * Email OTP sign-in, PocketBase's `request-otp` and `auth-with-otp`:
 * - request-otp answers `{otpId}` whether or not the address has an account (an unknown one gets
 *   a random id after the same hashing work, so neither the answer nor its time tells), and
 *   enqueues the code's mail (`otp.emailTemplate`);
 * - auth-with-otp signs in with it (method 'otp', so MFA and login alerts apply). A code sent to
 *   the record's current address verifies it; without MFA that also replaces the password with a
 *   random one (PocketBase's guard against an account pre-registered by someone else).
 */
export async function recordAuthOtp(http: FastifyInstance, opts: RecordAuthOptions): Promise<void> {
  const log = opts.log ?? http.log
  const app = mailApp(opts)

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/request-otp', async (request) => {
    const c = authCollection(opts, request.params.collection)
    if (!c.otp.enabled) throw new ApiError('forbidden', 'The collection is not configured to allow OTP authentication.')
    const { email } = readBody(EmailBody, request.body)
    const found = await findRowByEmail(opts.db().db, c, email)
    const row = found && !(isSuperusers(c) && rowString(found, 'email') === INSTALLER_EMAIL) ? found : undefined
    if (!row) {
      // The hash an issued code costs, so an unknown address takes as long as a known one.
      await hashPassword(randomString(c.otp.length, '0123456789'))
      return { otpId: generateRecordId() }
    }
    const address = rowString(row, 'email')
    const otp = await issueOtp(opts, c, rowString(row, 'id'), address, c.otp.length, c.otp.duration)
    if (otp.code) {
      try {
        await opts.mail.send(templateMail(app, c.otp.emailTemplate, address, { '{OTP}': otp.code, '{OTP_ID}': otp.id }))
      } catch (err) {
        log.error({ err, collection: c.name }, 'failed to send the OTP mail')
        await opts.db().db.deleteFrom(OTPS).where('id', '=', otp.id).execute()
      }
    } else {
      log.warn({ collection: c.name, recordId: rowString(row, 'id') }, 'too many OTP requests: answering with the last one issued')
    }
    return { otpId: otp.id }
  })

  http.post<{ Params: CollectionParams }>('/api/collections/:collection/auth-with-otp', async (request) => {
    const c = authCollection(opts, request.params.collection)
    if (!c.otp.enabled) throw new ApiError('forbidden', 'The collection is not configured to allow OTP authentication.')
    const body = readBody(AuthWithOtpBody, request.body)
    const used = await consumeOtp(opts, request, c, body.otpId, body.password, c.otp.duration)
    const { sentTo } = used
    let { row } = used
    if (!rowBool(row, 'verified') && sentTo !== '' && sentTo === rowString(row, 'email')) {
      const id = rowString(row, 'id')
      const field = findField(c, 'password')
      const max = field?.type === 'password' && field.max > 0 ? field.max : 71
      const password = c.mfa.enabled ? undefined : randomString(Math.min(Math.max(30, field?.type === 'password' ? field.min : 0), max))
      try {
        await opts.records.update(c.name, id, { verified: true, ...(password ? { password, passwordConfirm: password } : {}) }, systemRequest())
        row = (await findRowById(opts.db().db, c, id)) ?? row
      } catch (err) {
        log.error({ err, collection: c.name, recordId: id }, 'failed to mark the record verified after its OTP')
      }
    }
    return respondWithAuth(opts, request, c, row, { otpId: body.otpId }, 'otp', { method: 'otp' })
  })
}
