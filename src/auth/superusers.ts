import { sql } from 'kysely'
import { ApiError, validationError, type FieldError } from '../errors.ts'
import { isAuthCollection, isMulti, nowDate, type AuthCollection, type Field } from '../records/model.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { SUPERUSERS } from './authenticate.ts'
import { isEmailAddress } from './email.ts'
import { newTokenKey, randomString, updateAuthFields } from './mutate.ts'
import { hashPassword } from './password.ts'
import { findRowByEmail, rowString, type Db } from './records.ts'
import { signRecordToken } from './tokens.ts'

/**
 * Superusers: records of the `_superusers` auth collection, managed from the CLI
 * (`plinth superuser ...`) and, for the very first one, through PocketBase's install link.
 */

/**
 * The placeholder superuser behind the install link. Same address as PocketBase's, so a database
 * moved from PocketBase is recognised. It is deleted as soon as a real superuser exists.
 */
export const INSTALLER_EMAIL = '__pbinstaller@example.com'

export function superusersCollection(registry: CollectionRegistry): AuthCollection {
  const c = registry.get(SUPERUSERS)
  if (!c || !isAuthCollection(c)) throw new Error(`the ${SUPERUSERS} collection is missing: run "plinth migrate"`)
  return c
}

/** The stored value of a field nobody set: the conventions of src/records/model.ts. */
function emptyValue(field: Field, now: string): unknown {
  if (isMulti(field)) return '[]'
  switch (field.type) {
    case 'number':
      return 0
    case 'bool':
      return 0
    case 'json':
      return null
    case 'autodate':
      return field.onCreate ? now : ''
    default:
      return ''
  }
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
 * Inserts a superuser row directly (system fields only need their storage defaults), so the CLI
 * works with nothing but the database. Throws a validation error for a bad or taken email.
 */
export async function createSuperuser(db: Db, c: AuthCollection, email: string, password: string): Promise<string> {
  checkCredentials(c, email, password)
  if (await findRowByEmail(db, c, email)) throw validationError({ email: { code: 'validation_not_unique', message: 'Value must be unique.' } })
  const now = nowDate()
  const values: Record<string, unknown> = {}
  for (const f of c.fields) values[f.name] = emptyValue(f, now)
  Object.assign(values, {
    id: randomString(15, 'abcdefghijklmnopqrstuvwxyz0123456789'), // PocketBase's default id form
    email,
    password: await hashPassword(password),
    tokenKey: newTokenKey(),
    verified: 1, // superusers are always verified
  })
  await db.insertInto(c.name).values(values).execute()
  if (email !== INSTALLER_EMAIL) await removeInstaller(db, c)
  return values.id as string
}

/** Creates the superuser, or sets the password of the one with that email. Returns 'created' | 'updated'. */
export async function upsertSuperuser(db: Db, c: AuthCollection, email: string, password: string): Promise<'created' | 'updated'> {
  const row = await findRowByEmail(db, c, email)
  if (!row) {
    await createSuperuser(db, c, email, password)
    return 'created'
  }
  checkCredentials(c, email, password)
  await updateAuthFields(db, c, rowString(row, 'id'), { password, verified: true })
  return 'updated'
}

/** Changes a superuser's password (which also revokes its tokens). Throws not_found when there is none. */
export async function updateSuperuserPassword(db: Db, c: AuthCollection, email: string, password: string): Promise<void> {
  const row = await findRowByEmail(db, c, email)
  if (!row) throw new ApiError('not_found', `superuser with email "${email}" doesn't exist`)
  checkCredentials(c, email, password)
  await updateAuthFields(db, c, rowString(row, 'id'), { password, verified: true })
}

/** Deletes a superuser; refuses to delete the last one (PocketBase's rule). False when it did not exist. */
export async function deleteSuperuser(db: Db, c: AuthCollection, email: string): Promise<boolean> {
  const row = await findRowByEmail(db, c, email)
  if (!row) return false
  if ((await countSuperusers(db, c, false)) <= 1) throw new ApiError('bad_request', "You can't delete the only existing superuser")
  await db.deleteFrom(c.name).where('id', '=', rowString(row, 'id')).execute()
  return true
}

export async function countSuperusers(db: Db, c: AuthCollection, excludeInstaller: boolean): Promise<number> {
  let q = db.selectFrom(c.name).select(sql<number | string>`count(*)`.as('n'))
  if (excludeInstaller) q = q.where('email', '!=', INSTALLER_EMAIL)
  const row = await q.executeTakeFirst()
  return Number(row?.n ?? 0)
}

/**
 * Deletes the installer superuser (which revokes the install link). Called after a real
 * superuser is created: by `createSuperuser`, and by the records API after a `_superusers` create.
 */
export async function removeInstaller(db: Db, c: AuthCollection): Promise<void> {
  await db.deleteFrom(c.name).where('email', '=', INSTALLER_EMAIL).execute()
}

export interface InstallDeps {
  registry: CollectionRegistry
  db: () => Db
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
  const c = superusersCollection(deps.registry)
  const db = deps.db()
  if ((await countSuperusers(db, c, true)) > 0) return undefined
  let row = await findRowByEmail(db, c, INSTALLER_EMAIL)
  if (!row) {
    // Nobody knows this password: the installer is only reachable through the link's token.
    await createSuperuser(db, c, INSTALLER_EMAIL, randomString(30))
    row = await findRowByEmail(db, c, INSTALLER_EMAIL)
    if (!row) throw new Error('installer superuser was not created')
  }
  const token = await signRecordToken(c, { id: rowString(row, 'id'), tokenKey: rowString(row, 'tokenKey') }, 'auth', {
    refreshable: false,
    duration: INSTALL_TOKEN_SECONDS,
  })
  const url = `${deps.baseUrl.replace(/\/+$/, '')}/_/#/pbinstall/${token}`
  deps.log?.warn({ installUrl: url }, `No superuser yet: create the first one within 30 minutes at ${url} (or run: plinth superuser upsert EMAIL PASSWORD)`)
  return url
}
