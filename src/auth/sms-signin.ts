import type { Counters } from '../counters/counters.ts'
import { ApiError } from '../errors.ts'
import type { Jobs } from '../jobs/jobs.ts'
import type { Logger } from '../log.ts'
import { OTPS } from '../records/collections/auth-system.ts'
import { generateRecordId, randomString } from '../records/fields/random.ts'
import { isAuthCollection, type AuthCollection } from '../records/model.ts'
import { systemRequest } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { SmsSender } from '../sms/sms.ts'
import { dummyHash, verifyPassword } from './password.ts'
import { rowString, type Db, type Row } from './records.ts'
import { SmsLimiter, type SmsLimits } from './sms-limits.ts'

/**
 * Sign-in codes sent by SMS (Plinth's own method; PocketBase has none).
 *
 * A request (`request`) only enqueues the `plinth.sms` job and answers with a fresh `smsId`: the
 * answer is the same, in shape and in time, whether the number has an account, may sign up, is
 * over its limits, or the budget is spent, because all of that is decided by the job. The job
 * (`send`) checks the per-number limits and the daily budget, picks the record the code is for
 * (the account with that number; a new id for a sign-up; the signed-in record for a binding),
 * stores the code's hash in `_otps` under the `smsId` and sends it. A failed send throws, so the
 * queue retries it with backoff, with a new code (a code that may never have arrived is replaced)
 * and one more SMS taken from the budget; it never signs anyone in.
 *
 * `verify` checks a code: right digits, for that `smsId`, of this collection, not expired, at
 * most `MAX_TRIES` guesses per `smsId` (then the code is deleted), and used once.
 */
export const SMS_JOB = 'plinth.sms'
/** Wrong guesses a code survives; the next one, right or wrong, is refused and kills the code. */
export const MAX_TRIES = 5

interface SmsJobData {
  collectionId: string
  /** E.164. */
  phone: string
  smsId: string
  /** Binding: the signed-in record the number is for. */
  recordId?: string
}

/** What a verified code was for. */
export interface VerifiedCode {
  /** The record it signs in (or, when there is none yet, the id a sign-up creates). */
  recordRef: string
  /** The number it went to (E.164). */
  phone: string
}

export interface SmsSignInDeps {
  registry: CollectionRegistry
  records: RecordsService
  /** The primary: a code stored by the job must be found by the next request. */
  db: () => Db
  jobs: Jobs
  sms: SmsSender
  counters: Counters
  log: Pick<Logger, 'info' | 'warn' | 'error'>
  limits: SmsLimits
}

const SMS_ID = /^[a-z0-9]{15}$/
const DAY = 86_400_000

export class SmsSignIn {
  readonly limiter: SmsLimiter

  constructor(private readonly deps: SmsSignInDeps) {
    this.limiter = new SmsLimiter(deps.counters, deps.limits, (day, budget) =>
      deps.log.error({ alert: 'sms-budget', day, budget }, `SMS daily budget of ${budget} spent for ${day}: no more SMS are sent today (phone.dailyBudget)`),
    )
    // Retried with backoff (2 s, 4 s, 8 s, 16 s) when the provider fails; a send slower than 30 s failed.
    deps.jobs.define<SmsJobData>(SMS_JOB, (data, job) => this.send(data, job.attempt), { attempts: 5, backoff: 2000, timeout: 30_000, concurrency: 4 })
  }

  /** Queues a code for `phone` (E.164) and returns its smsId; `recordId` binds the number to that signed-in record. */
  async request(collection: AuthCollection, phone: string, recordId?: string): Promise<string> {
    const smsId = generateRecordId()
    const data: SmsJobData = { collectionId: collection.id, phone, smsId, ...(recordId ? { recordId } : {}) }
    await this.deps.jobs.enqueue(SMS_JOB, data, { jobId: `sms.${smsId}` })
    return smsId
  }

  /** The job: limits, then the record, then the code stored and sent. Returns quietly when nothing is to be sent. */
  async send(data: SmsJobData, attempt: number): Promise<void> {
    const c = this.deps.registry.get(data.collectionId)
    if (!c || !isAuthCollection(c) || !c.phoneAuth.enabled) return
    const log = { collection: c.name, smsId: data.smsId }
    // The number's limits are taken once per request; a retry only takes from the budget.
    const admitted = `sms:admitted:${data.smsId}`
    if (attempt > 1 && (await this.deps.counters.get(admitted))) {
      if (!(await this.limiter.spend())) return this.deps.log.warn({ ...log, reason: 'budget' }, 'sms code not sent')
    } else {
      const refused = await this.limiter.admitSend(data.phone)
      if (refused) return this.deps.log.warn({ ...log, reason: refused }, 'sms code not sent')
      await this.deps.counters.setIfAbsent(admitted, '1', DAY)
    }
    const db = this.deps.db()
    const owner = (await db.selectFrom(c.name).select('id').where('phone', '=', data.phone).limit(1).executeTakeFirst()) as Row | undefined
    let recordRef: string
    if (data.recordId) {
      if (owner && rowString(owner, 'id') !== data.recordId) return this.deps.log.info({ ...log, reason: 'taken' }, 'sms code not sent')
      recordRef = data.recordId
    } else if (owner) recordRef = rowString(owner, 'id')
    else if (c.phoneAuth.allowSignUp) recordRef = generateRecordId()
    else return this.deps.log.info({ ...log, reason: 'no-account' }, 'sms code not sent')
    const code = randomString(c.phoneAuth.length, '0123456789')
    const existing = await db.selectFrom(OTPS).select('id').where('id', '=', data.smsId).executeTakeFirst()
    const otp = { collectionRef: c.id, recordRef, password: code, sentTo: data.phone }
    if (existing) await this.deps.records.update(OTPS, data.smsId, otp, systemRequest())
    else await this.deps.records.create(OTPS, { id: data.smsId, ...otp }, systemRequest())
    await this.deps.sms.send({ to: data.phone, code, minutes: Math.ceil(c.phoneAuth.duration / 60) })
    this.deps.log.info({ ...log, engine: this.deps.sms.name }, 'sms code sent')
  }

  /**
   * Checks `code` for `smsId`; the code is gone afterwards when it was right (used) or when its
   * guesses ran out. Every failure is the same 400, so a guess learns nothing but "wrong".
   * `authorize` runs once the code is right and before it is used up: a throw keeps the code (a
   * binding code tried without its account's token is not burnt by that try).
   */
  async verify(collection: AuthCollection, smsId: unknown, code: unknown, authorize: (v: VerifiedCode) => Promise<void>): Promise<VerifiedCode> {
    const wrong = () => new ApiError('bad_request', 'Invalid or expired SMS code.')
    if (typeof smsId !== 'string' || !SMS_ID.test(smsId) || typeof code !== 'string' || !/^[0-9]{4,10}$/.test(code)) throw wrong()
    const ttlMs = collection.phoneAuth.duration * 1000
    const tries = await this.deps.counters.increment(`sms:try:${smsId}`, ttlMs + 60_000)
    const db = this.deps.db()
    const row = (await db
      .selectFrom(OTPS)
      .selectAll()
      .where('id', '=', smsId)
      .where('collectionRef', '=', collection.id)
      .executeTakeFirst()) as Row | undefined
    if (tries.count > MAX_TRIES) {
      if (row) await this.deps.records.delete(OTPS, smsId, systemRequest()).catch(() => undefined)
      throw wrong()
    }
    // The same hashing work whether or not there is a code, so a missing one answers no faster.
    const hash = row ? rowString(row, 'password') : await dummyHash()
    const right = await verifyPassword(code, hash)
    if (!row || !right || expired(row, ttlMs)) throw wrong()
    const verified = { recordRef: rowString(row, 'recordRef'), phone: rowString(row, 'sentTo') }
    await authorize(verified)
    // One use: of two concurrent right answers only the first gets through.
    if (!(await this.deps.counters.setIfAbsent(`sms:used:${smsId}`, '1', ttlMs + 60_000))) throw wrong()
    await this.deps.records.delete(OTPS, smsId, systemRequest()).catch(() => undefined)
    return verified
  }
}

/** Past its life: counted from the last time a code was stored under the id (a retry replaces it). */
function expired(row: Row, ttlMs: number): boolean {
  const at = Date.parse(rowString(row, 'updated').replace(' ', 'T'))
  return !Number.isFinite(at) || Date.now() - at > ttlMs
}

