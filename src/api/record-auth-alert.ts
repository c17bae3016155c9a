import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { recordPlaceholders, templateMail } from '../auth/mails.ts'
import { rowString, type Row } from '../auth/records.ts'
import { AUTH_ORIGINS } from '../records/collections/auth-system.ts'
import type { AuthCollection } from '../records/model.ts'
import { systemRequest } from '../records/record.ts'
import type { RecordAuthOptions } from './record-auth-context.ts'

/** Origins kept per record (PocketBase's `maxAuthOrigins`): the least recently used go first. */
const MAX_ORIGINS = 5

/**
 * PocketBase's login alerts: each sign-in by a method (not a refresh or an impersonation)
 * records its origin in `_authOrigins`, a fingerprint = MD5 of the client's IP and User-Agent
 * (cut at 200 characters). A fingerprint the record has not signed in from before, when it has
 * signed in from somewhere else, mails the "login from a new location" alert (the very first
 * sign-in does not). At most MAX_ORIGINS are kept per record.
 *
 * Never fails the sign-in: the caller logs a failure, as PocketBase does.
 */
export async function recordAuthOrigin(opts: RecordAuthOptions, request: FastifyRequest, c: AuthCollection, row: Row): Promise<void> {
  if (!opts.registry.get(AUTH_ORIGINS)) return
  const ip = request.ip
  const rawAgent = request.headers['user-agent'] ?? ''
  const agent = rawAgent.length > 200 ? `${rawAgent.slice(0, 200)}...` : rawAgent
  // NB: MD5 as a fingerprint only (PocketBase's value, so imported origins still match), never as a secret.
  const fingerprint = createHash('md5').update(ip + agent).digest('hex')
  const recordId = rowString(row, 'id')
  const db = opts.db().db
  const origins = (await db
    .selectFrom(AUTH_ORIGINS)
    .select(['id', 'fingerprint'])
    .where('collectionRef', '=', c.id)
    .where('recordRef', '=', recordId)
    .orderBy('updated', 'desc')
    .orderBy('id', 'desc')
    .limit(100)
    .execute()) as Row[]
  const known = origins.find((o) => rowString(o, 'fingerprint') === fingerprint)
  if (known) {
    // Touched, so it counts as recently used.
    await opts.records.update(AUTH_ORIGINS, rowString(known, 'id'), {}, systemRequest())
    return
  }
  const email = rowString(row, 'email')
  if (origins.length > 0 && email) {
    const info = `${new Date().toISOString().replace('T', ' ')} - ${ip} ${agent}`
    await opts.mail.send(templateMail(opts.meta?.() ?? { appName: opts.appName ?? 'Plinth', appUrl: opts.appUrl }, c.authAlert.emailTemplate, email, { ...recordPlaceholders(c.fields, row), '{ALERT_INFO}': info }))
  }
  for (const old of origins.slice(MAX_ORIGINS - 1)) await opts.records.delete(AUTH_ORIGINS, rowString(old, 'id'), systemRequest())
  await opts.records.create(AUTH_ORIGINS, { collectionRef: c.id, recordRef: recordId, fingerprint }, systemRequest())
}
