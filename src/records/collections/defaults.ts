import type { AuthCollection, AuthOptions, Collection, CollectionType, Field, TextField } from '../model.ts'
import { nowDate } from '../model.ts'
import { blankField } from '../fields/definition.ts'
import { crc32Checksum, randomString } from '../fields/random.ts'
import { findSingleColumnUniqueIndex } from './index-definition.ts'
import { defaultAuthAlertTemplate, defaultOtpTemplate } from './auth-templates.ts'

/**
 * New collections with PocketBase's defaults: system fields, required unique indexes, auth options
 * with fresh random token secrets.
 */

export const SUPERUSERS = '_superusers'
export const DEFAULT_ID_PATTERN = '^[a-z0-9]+$'

/** PocketBase's default collection id: `pbc_` + crc32(type + name). */
export function defaultCollectionId(type: CollectionType, name: string): string {
  return 'pbc_' + crc32Checksum(type + name)
}

/** 50 random characters, as PocketBase generates token secrets. NB: key material; never logged or served. */
export function newSecret(): string {
  return randomString(50)
}

export function defaultAuthOptions(): AuthOptions {
  return {
    authRule: '',
    manageRule: null,
    passwordAuth: { enabled: true, identityFields: ['email'] },
    authToken: { duration: 432000, secret: newSecret() },
    passwordResetToken: { duration: 1800, secret: newSecret() },
    emailChangeToken: { duration: 1800, secret: newSecret() },
    verificationToken: { duration: 86400, secret: newSecret() },
    fileToken: { duration: 180, secret: newSecret() },
    oauth2: { enabled: false, providers: [], mappedFields: { id: '', name: '', username: '', avatarURL: '' } },
    mfa: { enabled: false, duration: 600, rule: '' },
    otp: { enabled: false, duration: 180, length: 8, emailTemplate: defaultOtpTemplate() },
    authAlert: { enabled: true, emailTemplate: defaultAuthAlertTemplate() },
    phoneAuth: { enabled: false, allowSignUp: false, duration: 300, length: 6 },
  }
}

/** A blank collection of `type` with its system fields (and, for auth, options and indexes). */
export function newCollection(type: CollectionType, name: string, id = ''): Collection {
  const now = nowDate()
  const c: Collection = {
    id, name, type, system: false, fields: [], indexes: [],
    listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null,
    created: now, updated: now,
  }
  if (type === 'view') c.viewQuery = ''
  if (type === 'auth') Object.assign(c, defaultAuthOptions())
  initDefaultFields(c)
  return c
}

function textField(name: string, extra: Partial<TextField>): TextField {
  return { ...(blankField('text', name) as TextField), ...extra }
}

function ensureField<T extends Field>(c: Collection, name: string, type: T['type'], make: () => T, enforce: (f: T) => void, prepend = false): void {
  const existing = c.fields.find((f) => f.name === name)
  if (existing && existing.type === type) {
    enforce(existing as T)
    return
  }
  if (existing) return // wrong type: the validator reports it
  const f = make()
  enforce(f)
  if (prepend) c.fields.unshift(f)
  else c.fields.push(f)
}

function indexName(c: Collection, field: string): string {
  return `idx_${field}_${c.id || c.name || randomString(10)}`.slice(0, 64)
}

/**
 * PocketBase's `initDefaultFields`: makes sure `id` (and, on auth collections, password, tokenKey,
 * email, emailVisibility, verified with the unique indexes on tokenKey and email) exist with their
 * system settings enforced. View collections get their fields from the query instead.
 */
export function initDefaultFields(c: Collection): void {
  if (c.type === 'view') return
  ensureField<TextField>(
    c, 'id', 'text',
    () => textField('id', { min: 15, max: 15, pattern: DEFAULT_ID_PATTERN, autogeneratePattern: '[a-z0-9]{15}' }),
    (f) => {
      f.system = true
      f.required = true
      f.primaryKey = true
      f.hidden = false
      if (!f.pattern) f.pattern = DEFAULT_ID_PATTERN
    },
    true,
  )
  if (c.type !== 'auth') return
  ensureField(c, 'password', 'password', () => ({ ...(blankField('password', 'password') as Extract<Field, { type: 'password' }>), min: 8 }), (f) => {
    f.system = true
    f.hidden = true
    f.required = true
  })
  ensureField<TextField>(c, 'tokenKey', 'text', () => textField('tokenKey', { min: 30, max: 60, autogeneratePattern: '[a-zA-Z0-9]{50}' }), (f) => {
    f.system = true
    f.hidden = true
    f.required = true
  })
  if (!findSingleColumnUniqueIndex(c.indexes, 'tokenKey')) {
    c.indexes.push(`CREATE UNIQUE INDEX \`${indexName(c, 'tokenKey')}\` ON \`${c.name}\` (\`tokenKey\`)`)
  }
  ensureField(c, 'email', 'email', () => ({ ...blankField('email', 'email'), required: true }) as Field & { type: 'email' }, (f) => {
    f.system = true
    f.hidden = false
  })
  if (!findSingleColumnUniqueIndex(c.indexes, 'email')) {
    c.indexes.push(`CREATE UNIQUE INDEX \`${indexName(c, 'email')}\` ON \`${c.name}\` (\`email\`) WHERE \`email\` != ''`)
  }
  ensureField(c, 'emailVisibility', 'bool', () => blankField('bool', 'emailVisibility') as Field & { type: 'bool' }, (f) => {
    f.system = true
  })
  ensureField(c, 'verified', 'bool', () => blankField('bool', 'verified') as Field & { type: 'bool' }, (f) => {
    f.system = true
  })
}

function autodate(name: string, onUpdate: boolean, system: boolean): Field {
  return { ...blankField('autodate', name), system, onCreate: true, onUpdate } as Field
}

/** `_superusers` exactly as PocketBase's first migration creates it. */
export function superusersCollection(): AuthCollection {
  const c = newCollection('auth', SUPERUSERS, defaultCollectionId('auth', SUPERUSERS)) as AuthCollection
  c.system = true
  c.fields.push(autodate('created', false, true), autodate('updated', true, true))
  c.authToken.duration = 86400
  return c
}

/** The default `users` collection (id `_pb_users_auth_`) with PocketBase's default rules and fields. */
export function usersCollection(): AuthCollection {
  const c = newCollection('auth', 'users', '_pb_users_auth_') as AuthCollection
  const owner = 'id = @request.auth.id'
  c.listRule = owner
  c.viewRule = owner
  c.createRule = ''
  c.updateRule = owner
  c.deleteRule = owner
  c.fields.push(
    { ...blankField('text', 'name'), max: 255 } as Field,
    {
      ...blankField('file', 'avatar'),
      maxSelect: 1,
      mimeTypes: ['image/jpeg', 'image/png', 'image/svg+xml', 'image/gif', 'image/webp'],
    } as Field,
    autodate('created', false, false),
    autodate('updated', true, false),
  )
  c.oauth2.mappedFields = { ...c.oauth2.mappedFields, name: 'name', avatarURL: 'avatar' }
  addPhoneSignIn(c)
  return c
}

/** E.164: `+`, a country code and up to 15 digits in all. */
export const PHONE_PATTERN = '^\\+[1-9][0-9]{6,14}$'

/**
 * Plinth's phone sign-in on `c` (the default `users`, and '0011-users-phone' on older databases):
 * a unique `phone` field, `phoneAuth` on with sign-up, and `email` no longer required, since a
 * record made by a phone sign-up has none.
 */
export function addPhoneSignIn(c: AuthCollection): void {
  c.fields.splice(c.fields.findIndex((f) => f.name === 'verified') + 1, 0, textField('phone', { max: 16, pattern: PHONE_PATTERN }))
  c.indexes.push(`CREATE UNIQUE INDEX \`${indexName(c, 'phone')}\` ON \`${c.name}\` (\`phone\`) WHERE \`phone\` != ''`)
  const email = c.fields.find((f) => f.name === 'email')
  if (email?.type === 'email') email.required = false
  c.phoneAuth = { enabled: true, allowSignUp: true, duration: 300, length: 6 }
}
