/**
 * What an OAuth2 sign-in does to records, PocketBase's oauth2Submit: find the record by its
 * `_externalAuths` link, else the signed-in record of this collection, else by the verified email
 * the vendor gave; create one (createData + mapped fields, under the collection's createRule) when
 * there is none; then link the vendor identity. All in one unit of work, through the records
 * service, so rules, validation, hooks and realtime see these writes like any other.
 *
 * NB (CVE-2024-38351 and GHSA-pq7p-mc74-g65w, account pre-hijacking): an existing record whose
 * email is NOT verified may have been made by someone else with the victim's address. Signing in
 * to it with OAuth2 (whose email the vendor verified) takes it away from that someone: its password
 * is replaced by a random one (which also retires its tokens) and every other OAuth2 link it had is
 * deleted, before it is marked verified. A verified record is linked as it is.
 */
import { findRowByEmail, findRowById, findRowByIdentity, rowBool, rowString, type Row } from '../auth/records.ts'
import type { OAuth2User } from '../auth/oauth2/index.ts'
import { ApiError } from '../errors.ts'
import { EXTERNAL_AUTHS } from '../records/collections/auth-system.ts'
import { randomString } from '../records/fields/random.ts'
import { findField, type AuthCollection } from '../records/model.ts'
import { systemRequest, type AuthInfo, type RequestInfo } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { RecordsTransaction } from '../records/records-tx.ts'
import { isSuperusers } from './record-auth-context.ts'

export interface OAuth2SignIn {
  collection: AuthCollection
  provider: string
  user: OAuth2User
  createData: Record<string, unknown>
  /** The caller's auth (a signed-in record of this collection links a new provider to itself). */
  auth: AuthInfo | null
  /** The request as rules see it, for the create (its createRule). */
  request: (body: Record<string, unknown>) => RequestInfo
}

/** A record has at most a few links; this bounds the clean-up of an unverified one. */
const MAX_LINKS = 100

export async function signInWithOAuth2(records: RecordsService, s: OAuth2SignIn): Promise<{ row: Row; isNew: boolean }> {
  const c = s.collection
  const system = systemRequest('oauth2')
  return records.transaction(async (tx) => {
    let link = (await tx.db
      .selectFrom(EXTERNAL_AUTHS)
      .selectAll()
      .where('collectionRef', '=', c.id)
      .where('provider', '=', s.provider)
      .where('providerId', '=', s.user.id)
      .limit(1)
      .executeTakeFirst()) as Row | undefined
    let row: Row | undefined
    if (link) {
      row = await findRowById(tx.db, c, rowString(link, 'recordRef'))
      // A link whose record is gone is stale: drop it and go on as if there were none.
      if (!row) {
        await tx.delete(EXTERNAL_AUTHS, rowString(link, 'id'), system)
        link = undefined
      }
    }
    if (!row && s.auth && s.auth.collection.id === c.id) row = await findRowById(tx.db, c, s.auth.record.id)
    if (!row && s.user.email) row = await findRowByEmail(tx.db, c, s.user.email)

    let isNew = false
    if (!row) {
      row = await createRecord(tx, s)
      isNew = true
    } else {
      const id = rowString(row, 'id')
      const verified = rowBool(row, 'verified')
      const signedIn = s.auth?.collection.id === c.id && s.auth.record.id === id
      const changes: Record<string, unknown> = {}
      if (!verified && !signedIn) {
        const password = randomString(30)
        Object.assign(changes, { password, passwordConfirm: password })
      }
      if (!verified) {
        const others = (await tx.db.selectFrom(EXTERNAL_AUTHS).select('id').where('collectionRef', '=', c.id).where('recordRef', '=', id).limit(MAX_LINKS).execute()) as Row[]
        for (const o of others) await tx.delete(EXTERNAL_AUTHS, rowString(o, 'id'), system)
        link = undefined
      }
      let email = rowString(row, 'email')
      // A record made through a vendor that gave no email gets the one this vendor verified.
      if (!email && s.user.email) email = changes.email = s.user.email
      if (!verified && (email === '' || email === s.user.email)) changes.verified = true
      if (Object.keys(changes).length) {
        await tx.update(c.name, id, changes, system)
        row = (await findRowById(tx.db, c, id))!
      }
    }
    if (!link) {
      await tx.create(EXTERNAL_AUTHS, { collectionRef: c.id, recordRef: rowString(row, 'id'), provider: s.provider, providerId: s.user.id }, system)
    }
    return { row, isNew }
  })
}

/** A new record: createData, the vendor's email when none was sent, the mapped fields; verified when the email is the vendor's. */
async function createRecord(tx: RecordsTransaction, s: OAuth2SignIn): Promise<Row> {
  const c = s.collection
  // Never a superuser through OAuth2, whatever the collection's settings say.
  if (isSuperusers(c)) throw new ApiError('bad_request', 'Failed to authenticate.')
  const payload: Record<string, unknown> = { ...s.createData }
  if (typeof payload.email !== 'string' || payload.email === '') payload.email = s.user.email
  const mapped = c.oauth2.mappedFields
  const assign = (field: string | undefined, value: string) => {
    if (field && value && !Object.hasOwn(payload, field) && findField(c, field)) payload[field] = value
  }
  assign(mapped.id, s.user.id)
  assign(mapped.name, s.user.name)
  if (mapped.username && (await usernameFree(tx, c, mapped.username, s.user.username))) assign(mapped.username, s.user.username)
  // A file field would need the avatar downloaded (PocketBase does); only URL/text fields take the address.
  if (mapped.avatarURL && findField(c, mapped.avatarURL)?.type !== 'file') assign(mapped.avatarURL, s.user.avatarURL)
  if (payload.password === undefined) {
    const password = randomString(30)
    Object.assign(payload, { password, passwordConfirm: password })
  }
  const created = await tx.create(c.name, payload, s.request(payload))
  let row = (await findRowById(tx.db, c, created.id))!
  if (rowString(row, 'email') === s.user.email && !rowBool(row, 'verified')) {
    await tx.update(c.name, created.id, { verified: true }, systemRequest('oauth2'))
    row = (await findRowById(tx.db, c, created.id))!
  }
  return row
}

/** PocketBase maps the vendor's username only when it fits the field (pattern) and is not taken. */
async function usernameFree(tx: RecordsTransaction, c: AuthCollection, field: string, value: string): Promise<boolean> {
  const f = findField(c, field)
  if (!f || !value) return false
  if (f.type === 'text' && f.pattern && !new RegExp(f.pattern).test(value)) return false
  return !(await findRowByIdentity(tx.db, c, field, value))
}
