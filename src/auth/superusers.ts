import { sql } from 'kysely'
import { ApiError, validationError, type FieldError } from '../errors.ts'
import { randomString } from '../records/fields/random.ts'
import { isAuthCollection, type AuthCollection } from '../records/model.ts'
import { systemRequest } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { RecordsTransaction, Transactional } from '../records/records-tx.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { SUPERUSERS } from './authenticate.ts'
import { isEmailAddress } from './email.ts'
import { findRowByEmail, rowString, type Db } from './records.ts'
import { signRecordToken } from './tokens.ts'

/**
 * Superusers: records of the `_superusers` auth collection, managed from the CLI
 * (`plinth superuser ...`) and, for the very first one, through PocketBase's install link.
 * Every write goes through the records service as the server itself (`systemRequest()`): no API
 * rules, but the same validation, hooks and events as the records API.
 */

/**
 * The placeholder superuser behind the install link. Same address as PocketBase's, so a database
 * moved from PocketBase is recognised. It is deleted as soon as a real superuser exists.
 */
export const INSTALLER_EMAIL = '__pbinstaller@example.com'

export function superusersCollection(registry: Pick<CollectionRegistry, 'get'>): AuthCollection {
  const c = registry.get(SUPERUSERS)
  if (!c || !isAuthCollection(c)) throw new Error(`the ${SUPERUSERS} collection is missing: run "plinth migrate"`)
  return c
}

function superusersOf(tx: RecordsTransaction): AuthCollection {
  return superusersCollection({ get: (name) => tx.collection(name) })
}

function checkCredentials(c: AuthCollection, email: string, password: string): void {
  const errors: Record<string, FieldError> = {}
  if (!isEmailAddress(email)) errors.email = { code: 'validation_is_email', message: 'Must be a valid email address.' }
  const field = c.fields.find((f) => f.name === 'password')
  const min = field?.type === 'password' && field.min > 0 ? field.min : 8
  const max = field?.type === 'password' && field.max > 0 ? field.max : 255
  if (password.length < min || password.length > max) {
    errors.password = { code: 'validation_length_out_of_range', message: `The length must be between ${min} and ${max}.` }
  }
  if (Object.keys(errors).length) throw validationError(errors)
}

/**
 * Creates a superuser (always verified) through the records service. Throws a validation error
 * for a bad or taken email or a password out of range.
 */
export async function createSuperuser(records: Transactional, email: string, password: string): Promise<string> {
  return records.transaction(async (tx) => {
    const c = superusersOf(tx)
    checkCredentials(c, email, password)
    if (await findRowByEmail(tx.db, c, email)) throw validationError({ email: { code: 'validation_not_unique', message: 'Value must be unique.' } })
    const created = await tx.create(c.name, { email, password, passwordConfirm: password, verified: true }, systemRequest())
    return created.id
  })
}

/** Sets a superuser's password (which rotates its tokenKey: its tokens stop working) and marks it verified. */
async function setPassword(tx: RecordsTransaction, c: AuthCollection, id: string, password: string): Promise<void> {
  await tx.update(c.name, id, { password, passwordConfirm: password, verified: true }, systemRequest())
}

/** Creates the superuser, or sets the password of the one with that email. Returns 'created' | 'updated'. */
export async function upsertSuperuser(records: Transactional, email: string, password: string): Promise<'created' | 'updated'> {
  return records.transaction(async (tx) => {
    const c = superusersOf(tx)
    const row = await findRowByEmail(tx.db, c, email)
    if (!row) {
      await createSuperuser(tx, email, password)
      return 'created'
    }
    checkCredentials(c, email, password)
    await setPassword(tx, c, rowString(row, 'id'), password)
    return 'updated'
  })
}

/** Changes a superuser's password (which also revokes its tokens). Throws not_found when there is none. */
export async function updateSuperuserPassword(records: Transactional, email: string, password: string): Promise<void> {
  await records.transaction(async (tx) => {
    const c = superusersOf(tx)
    const row = await findRowByEmail(tx.db, c, email)
    if (!row) throw new ApiError('not_found', `superuser with email "${email}" doesn't exist`)
    checkCredentials(c, email, password)
    await setPassword(tx, c, rowString(row, 'id'), password)
  })
}

/** Deletes a superuser; refuses to delete the last one (PocketBase's rule). False when it did not exist. */
export async function deleteSuperuser(records: Transactional, email: string): Promise<boolean> {
  return records.transaction(async (tx) => {
    const c = superusersOf(tx)
    const row = await findRowByEmail(tx.db, c, email)
    if (!row) return false
    if ((await countSuperusers(tx.db, c, false)) <= 1) throw new ApiError('bad_request', "You can't delete the only existing superuser")
    await tx.delete(c.name, rowString(row, 'id'), systemRequest())
    return true
  })
}

export async function countSuperusers(db: Db, c: AuthCollection, excludeInstaller: boolean): Promise<number> {
  let q = db.selectFrom(c.name).select(sql<number | string>`count(*)`.as('n'))
  if (excludeInstaller) q = q.where('email', '!=', INSTALLER_EMAIL)
  const row = await q.executeTakeFirst()
  return Number(row?.n ?? 0)
}

/**
 * Makes the records service delete the installer superuser (which revokes the install link) as
 * soon as a real superuser is created, by the CLI or the records API, inside the same unit of
 * work as that create. Auth registers this on records (records never import auth); the
 * composition root calls it once per records service.
 */
export function removeInstallerOnSuperuserCreate(records: Pick<RecordsService, 'hooks' | 'transaction'>): void {
  records.hooks.onRecordCreate(async (e, next) => {
    await next()
    if (!e.record || e.record.email === INSTALLER_EMAIL) return
    // Called inside the create's unit of work: this joins it, so both commit or neither.
    await records.transaction(async (tx) => {
      const installer = await findRowByEmail(tx.db, superusersOf(tx), INSTALLER_EMAIL)
      if (installer) await tx.delete(SUPERUSERS, rowString(installer, 'id'), systemRequest())
    })
  }, SUPERUSERS)
}

export interface InstallDeps {
  records: Transactional
  /** The public base URL, e.g. `http://127.0.0.1:8090`. */
  baseUrl: string
  log?: { warn(obj: object, msg: string): void }
}

/** How long the install link works. */
export const INSTALL_TOKEN_SECONDS = 30 * 60

/**
 * On a server with no superuser yet: makes (or reuses) the installer superuser and returns a link
 * carrying a short-lived, non-refreshable superuser token, PocketBase's
 * `BASE/_/#/pbinstall/TOKEN`. With that token, `POST /api/collections/_superusers/records`
 * creates the first real superuser (after which the installer is deleted). Undefined when a
 * superuser exists. NB: the link is a superuser credential for 30 minutes: print it, never store it.
 */
export async function installLink(deps: InstallDeps): Promise<string | undefined> {
  const found = await deps.records.transaction(async (tx) => {
    const c = superusersOf(tx)
    if ((await countSuperusers(tx.db, c, true)) > 0) return undefined
    let row = await findRowByEmail(tx.db, c, INSTALLER_EMAIL)
    if (!row) {
      // Nobody knows this password: the installer is only reachable through the link's token.
      await createSuperuser(tx, INSTALLER_EMAIL, randomString(30))
      row = await findRowByEmail(tx.db, c, INSTALLER_EMAIL)
      if (!row) throw new Error('installer superuser was not created')
    }
    return { c, row }
  })
  if (!found) return undefined
  const { c, row } = found
  const token = await signRecordToken(c, { id: rowString(row, 'id'), tokenKey: rowString(row, 'tokenKey') }, 'auth', {
    refreshable: false,
    duration: INSTALL_TOKEN_SECONDS,
  })
  const url = `${deps.baseUrl.replace(/\/+$/, '')}/_/#/pbinstall/${token}`
  deps.log?.warn({ installUrl: url }, `No superuser yet: create the first one within 30 minutes at ${url} (or run: plinth superuser upsert EMAIL PASSWORD)`)
  return url
}
