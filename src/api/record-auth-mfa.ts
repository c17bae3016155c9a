import type { FastifyRequest } from 'fastify'
import { passesRule } from '../auth/rule.ts'
import { rowString, type Row } from '../auth/records.ts'
import { ApiError } from '../errors.ts'
import { MFAS } from '../records/collections/auth-system.ts'
import type { AuthCollection } from '../records/model.ts'
import { systemRequest, type RequestInfo } from '../records/record.ts'
import type { RecordAuthOptions } from './record-auth-context.ts'

/**
 * Multi-factor sign-in, PocketBase's way: with `mfa.enabled` (and the record matching `mfa.rule`,
 * '' = everyone), the first method that succeeds does not sign in. It leaves an `_mfas` row
 * naming the method and answers 401 with its id; a second, DIFFERENT method that succeeds with
 * that `mfaId` (body or query) within `mfa.duration` seconds signs in and uses the row up.
 * Every method counts the same (no pairing): password + OTP, OTP + OAuth2, SMS + password...
 */

/** The 401 of a first factor: `{mfaId}` at the top level (where PocketBase's SDK reads `err.response.mfaId`), and in `data`. */
export class MfaRequired extends ApiError {
  constructor(readonly mfaId: string) {
    super('unauthorized', 'A second authentication method is required.', { mfaId })
  }
  override toJSON() {
    return { ...super.toJSON(), mfaId: this.mfaId }
  }
}

/** Epoch ms of an autodate value (`YYYY-MM-DD HH:MM:SS.sssZ`); NaN when unreadable (treated as expired). */
export function autodateMs(value: string): number {
  return Date.parse(value.replace(' ', 'T'))
}

export function expired(row: Row, seconds: number, now = Date.now()): boolean {
  const created = autodateMs(rowString(row, 'created'))
  return !(created + seconds * 1000 > now)
}

/** The `mfaId` a request carries, query first, as PocketBase reads it. */
function mfaIdOf(request: FastifyRequest): string {
  const fromQuery = (request.query as Record<string, unknown> | undefined)?.mfaId
  if (typeof fromQuery === 'string' && fromQuery) return fromQuery
  const body = request.body
  const fromBody = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).mfaId : undefined
  return typeof fromBody === 'string' ? fromBody.slice(0, 255) : ''
}

/**
 * Runs after the credentials of `method` were checked and the authRule passed. Returns when the
 * sign-in may complete; throws MfaRequired (first factor) or a 400 (a bad, expired or same-method
 * `mfaId`). `method` '' (refresh, impersonation) skips MFA, as in PocketBase.
 */
export async function checkMfa(opts: RecordAuthOptions, request: FastifyRequest, c: AuthCollection, recordId: string, method: string, info: RequestInfo): Promise<void> {
  if (!c.mfa.enabled || !method) return
  let wanted: boolean
  try {
    wanted = await passesRule({ registry: opts.registry, engine: opts.db() }, c, c.mfa.rule, recordId, info)
  } catch {
    // PocketBase fails closed: a rule that cannot run refuses the sign-in.
    throw new ApiError('bad_request', 'Failed to authenticate.')
  }
  if (!wanted) return
  const mfaId = mfaIdOf(request)
  if (!mfaId) {
    const created = await opts.records.create(MFAS, { collectionRef: c.id, recordRef: recordId, method }, systemRequest())
    throw new MfaRequired(created.id)
  }
  const db = opts.db().db
  const row = (await db.selectFrom(MFAS).selectAll().where('id', '=', mfaId).limit(1).executeTakeFirst()) as Row | undefined
  if (!row || expired(row, c.mfa.duration)) {
    if (row) await db.deleteFrom(MFAS).where('id', '=', mfaId).execute()
    throw new ApiError('bad_request', 'Invalid or expired MFA session.')
  }
  if (rowString(row, 'recordRef') !== recordId || rowString(row, 'collectionRef') !== c.id) throw new ApiError('bad_request', 'Invalid MFA session.')
  if (rowString(row, 'method') === method) throw new ApiError('bad_request', 'A different authentication method is required.')
  // NB: used up with one conditional delete: of two requests racing with the same mfaId, one wins.
  const gone = await db.deleteFrom(MFAS).where('id', '=', mfaId).executeTakeFirst()
  if (Number(gone.numDeletedRows) !== 1) throw new ApiError('bad_request', 'Invalid or expired MFA session.')
}
