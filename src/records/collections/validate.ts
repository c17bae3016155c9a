import type { ValidationCode } from '../../validation-codes.ts'
import { isAuthCollection, type AuthCollection, type Collection, type Rule } from '../model.ts'
import { validateFieldSettings } from './validate-fields.ts'
import { validateEncryptedFields } from './validate-encrypt.ts'
import { fieldError, lengthRange, badFormat, mustBeNil, notAllowedValue, required, setError, type ErrorTree } from './errors.ts'
import { findSingleColumnUniqueIndex, indexSignature, parseIndex } from './index-definition.ts'
import { normalizeViewQuery } from './view-query.ts'
import { validateOAuth2 } from './oauth2-options.ts'

/** Collection-level checks, PocketBase's collection validator: errors keyed like its JSON. */

export interface ValidateContext {
  /** Every collection as it will be once this change lands (without `next` itself). */
  others: Collection[]
  /** By id or name, among the collections above and `next`. */
  lookup: (idOrName: string) => Collection | undefined
  /** Throws when `rule` does not compile for `collection` (the filter compiler's hook). */
  validateRule?: (collection: Collection, rule: string) => void
  /** A key to encrypt fields at rest is configured (`keys.atRestKey`). */
  canEncrypt?: boolean
  /** Whether a table (not a collection) of this name exists in the database. */
  tableExists: (name: string) => Promise<boolean>
}

const TYPES = ['base', 'auth', 'view']
const RESERVED_AUTH_FIELDS = ['passwordConfirm', 'oldPassword']
const TOKENS = ['authToken', 'passwordResetToken', 'emailChangeToken', 'verificationToken', 'fileToken'] as const

export async function validateCollection(next: Collection, prev: Collection | undefined, ctx: ValidateContext): Promise<ErrorTree> {
  const errors: ErrorTree = {}
  const set = (path: (string | number)[], code: ValidationCode, message: string) => setError(errors, path, fieldError(code, message))

  // id
  if (!prev) {
    if (!next.id) setError(errors, ['id'], required())
    else if (next.id.length > 100) setError(errors, ['id'], lengthRange(1, 100))
    else if (!/^\w+$/.test(next.id)) setError(errors, ['id'], badFormat())
    else if (ctx.others.some((c) => c.id === next.id)) set(['id'], 'validation_invalid_or_existing_id', 'The model id is invalid or already exists.')
  }
  if (prev && next.system !== prev.system) set(['system'], 'validation_collection_system_flag_change', 'System collection state cannot be changed.')
  if (!TYPES.includes(next.type)) setError(errors, ['type'], notAllowedValue())
  else if (prev && prev.type !== next.type) set(['type'], 'validation_collection_type_change', 'Collection type cannot be changed.')

  // name
  const name = next.name
  if (!name) setError(errors, ['name'], required())
  else if (name.length > 255) setError(errors, ['name'], lengthRange(1, 255))
  else if (name.toLowerCase().includes('_via_')) set(['name'], 'validation_found_via', 'The value cannot contain "_via_".')
  else if (!/^\w+$/.test(name)) setError(errors, ['name'], badFormat())
  else if (prev?.system && prev.name !== name) set(['name'], 'validation_collection_system_name_change', 'System collection name cannot be changed.')
  else if (ctx.others.some((c) => c.name.toLowerCase() === name.toLowerCase())) {
    set(['name'], 'validation_collection_name_exists', 'Collection name must be unique (case insensitive).')
  } else if (ctx.others.some((c) => c.id === name)) {
    set(['name'], 'validation_collection_name_id_duplicate', 'The name must not match an existing collection id.')
  } else if (prev?.name.toLowerCase() !== name.toLowerCase() && (await ctx.tableExists(name))) {
    set(['name'], 'validation_collection_name_invalid', "The name shouldn't match with an existing internal table.")
  }

  // A view's fields come from its query when the view is created (store.ts), not from the input.
  if (next.type !== 'view') validateFields(next, prev, ctx, errors)
  validateRules(next, prev, ctx, errors)
  validateIndexes(next, prev, ctx, errors)
  if (isAuthCollection(next)) validateAuthOptions(next, prev as AuthCollection | undefined, ctx, errors)
  if (next.type === 'view') {
    const q = normalizeViewQuery(next.viewQuery ?? '')
    if ('error' in q) set(['viewQuery'], 'validation_invalid_view_query', `Invalid query - ${q.error}`)
  }
  return errors
}

function validateFields(next: Collection, prev: Collection | undefined, ctx: ValidateContext, errors: ErrorTree): void {
  const set = (path: (string | number)[], code: ValidationCode, message: string) => setError(errors, path, fieldError(code, message))
  const ids = new Set<string>()
  const names = new Set<string>()
  for (const [i, f] of next.fields.entries()) {
    if (ids.has(f.id)) return set(['fields', i, 'id'], 'validation_duplicated_field_id', `Duplicated or invalid field id "${f.id}"`)
    if (names.has(f.name.toLowerCase())) return set(['fields', i, 'name'], 'validation_duplicated_field_name', `Duplicated or invalid field name ${f.name}`)
    ids.add(f.id)
    names.add(f.name.toLowerCase())
  }
  if (!next.fields.length) return setError(errors, ['fields'], required())
  const pk = next.fields.find((f) => f.name === 'id')
  if (!pk || pk.type !== 'text' || !pk.primaryKey) return set(['fields'], 'validation_missing_primary_key', 'Missing or invalid "id" PK field.')
  if (next.type === 'auth') {
    const need: [string, string, boolean, ValidationCode][] = [
      ['password', 'password', true, 'validation_missing_password_field'],
      ['tokenKey', 'text', true, 'validation_missing_tokenKey_field'],
      ['email', 'email', false, 'validation_missing_email_field'],
      ['emailVisibility', 'bool', false, 'validation_missing_emailVisibility_field'],
      ['verified', 'bool', false, 'validation_missing_verified_field'],
    ]
    for (const [name, type, hidden, missing] of need) {
      const f = next.fields.find((x) => x.name === name)
      if (!f || f.type !== type) return set(['fields'], missing, `System "${name}" field is required.`)
      if (!f.system || (hidden && !f.hidden)) {
        return hidden
          ? set(['fields', name], 'validation_must_be_system_and_hidden', 'The field must be marked as "System" and "Hidden".')
          : set(['fields', name], 'validation_must_be_system', 'The field must be marked as "System".')
      }
    }
  }
  if (next.type !== 'view' && prev) {
    for (const old of prev.fields) {
      if (!old.system) continue
      const now = next.fields.find((f) => f.id === old.id)
      if (!now || now.name !== old.name) return set(['fields'], 'validation_system_field_change', 'System fields cannot be deleted or renamed.')
    }
    for (const [i, f] of next.fields.entries()) {
      const old = prev.fields.find((o) => o.id === f.id)
      if (old && old.type !== f.type) set(['fields', i], 'validation_field_type_change', 'Field type cannot be changed.')
    }
  }
  if (next.type === 'auth') {
    for (const [i, f] of next.fields.entries()) {
      if (RESERVED_AUTH_FIELDS.includes(f.name)) set(['fields', i, 'name'], 'validation_reserved_field_name', 'The field name is reserved and cannot be used.')
    }
  }
  for (const [i, f] of next.fields.entries()) validateFieldSettings(f, i, { next, prev, lookup: ctx.lookup }, errors)
  validateEncryptedFields(next, prev, ctx.canEncrypt === true, errors)
}

function checkRule(c: Collection, rule: Rule, path: string[], ctx: ValidateContext, errors: ErrorTree): void {
  if (!rule || !ctx.validateRule) return
  try {
    ctx.validateRule(c, rule)
  } catch (err) {
    setError(errors, path, fieldError('validation_invalid_rule', `Invalid rule. Raw error: ${(err as Error).message}`))
  }
}

const systemRuleChanged = (prev: Collection | undefined, a: Rule, b: Rule) => !!prev?.system && a !== b

function validateRules(next: Collection, prev: Collection | undefined, ctx: ValidateContext, errors: ErrorTree): void {
  for (const key of ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule'] as const) {
    const rule = next[key]
    if (next.type === 'view' && ['createRule', 'updateRule', 'deleteRule'].includes(key) && rule !== null) {
      setError(errors, [key], mustBeNil())
      continue
    }
    checkRule(next, rule, [key], ctx, errors)
    if (prev && systemRuleChanged(prev, rule, prev[key])) {
      setError(errors, [key], fieldError('validation_collection_system_rule_change', 'System collection API rule cannot be changed.'))
    }
  }
}

function validateIndexes(next: Collection, prev: Collection | undefined, ctx: ValidateContext, errors: ErrorTree): void {
  const set = (path: (string | number)[], code: ValidationCode, message: string) => setError(errors, path, fieldError(code, message))
  if (next.type === 'view') {
    if (next.indexes.length) set(['indexes'], 'validation_indexes_not_supported', "View collections don't support indexes.")
    return
  }
  const names = new Set<string>()
  const defs = new Set<string>()
  for (const [i, raw] of next.indexes.entries()) {
    const def = parseIndex(raw)
    if (!def) return set(['indexes', i], 'validation_invalid_index_expression', 'Invalid CREATE INDEX expression.')
    const missing = [...def.columns.map((c) => c.name), ...def.where.map((w) => w.column)].find((n) => !next.fields.some((f) => f.name.toLowerCase() === n.toLowerCase()))
    if (missing) return set(['indexes', i], 'validation_invalid_index_expression', `Invalid CREATE INDEX expression: no field ${missing}.`)
    const lname = def.name.toLowerCase()
    if (names.has(lname)) return set(['indexes', i], 'validation_duplicated_index_name', 'The index name already exists.')
    names.add(lname)
    const used = ctx.others.find((c) => c.indexes.some((x) => parseIndex(x)?.name.toLowerCase() === lname))
    if (used) return set(['indexes', i], 'validation_existing_index_name', `The index name is already used in ${used.name} collection.`)
    const sig = indexSignature(def)
    if (defs.has(sig)) return set(['indexes', i], 'validation_duplicated_index_definition', 'The index definition already exists.')
    defs.add(sig)
  }
  if (prev) {
    // Unique indexes over system fields may not be changed or removed.
    for (const raw of prev.indexes) {
      const old = parseIndex(raw)
      if (!old?.unique) continue
      const touchesSystem = old.columns.some((col) => prev.fields.some((f) => f.system && f.name.toLowerCase() === col.name.toLowerCase()))
      if (!touchesSystem) continue
      const shape = (d: NonNullable<ReturnType<typeof parseIndex>>) => JSON.stringify(d.columns.map((c) => c.name.toLowerCase()))
      const kept = next.indexes.some((x) => {
        const d = parseIndex(x)
        return !!d?.unique && shape(d) === shape(old)
      })
      if (!kept) {
        return set(['indexes'], 'validation_invalid_unique_system_field_index', `Unique index definition on system fields (${old.columns.map((c) => c.name).join(', ')}) is invalid or missing.`)
      }
    }
  }
  if (next.type === 'auth') {
    for (const name of ['tokenKey', 'email']) {
      if (!findSingleColumnUniqueIndex(next.indexes, name)) {
        return set(['indexes'], 'validation_missing_required_unique_index', `Missing required unique index for field "${name}".`)
      }
    }
  }
}

function validateAuthOptions(next: AuthCollection, prev: AuthCollection | undefined, ctx: ValidateContext, errors: ErrorTree): void {
  const set = (path: (string | number)[], code: ValidationCode, message: string) => setError(errors, path, fieldError(code, message))
  checkRule(next, next.authRule, ['authRule'], ctx, errors)
  if (next.manageRule === '') setError(errors, ['manageRule'], required())
  else checkRule(next, next.manageRule, ['manageRule'], ctx, errors)
  if (prev && systemRuleChanged(prev, next.authRule, prev.authRule)) set(['authRule'], 'validation_collection_system_rule_change', 'System collection API rule cannot be changed.')
  if (prev && systemRuleChanged(prev, next.manageRule, prev.manageRule)) set(['manageRule'], 'validation_collection_system_rule_change', 'System collection API rule cannot be changed.')
  for (const k of TOKENS) {
    const t = next[k]
    if (!t.secret) setError(errors, [k, 'secret'], required())
    else if (t.secret.length < 30 || t.secret.length > 255) setError(errors, [k, 'secret'], lengthRange(30, 255))
    if (!t.duration) setError(errors, [k, 'duration'], required())
    else if (t.duration < 10) set([k, 'duration'], 'validation_min_greater_equal_than_required', 'Must be no less than 10.')
    else if (t.duration > 94670856) set([k, 'duration'], 'validation_max_less_equal_than_required', 'Must be no greater than 94670856.')
  }
  validateOAuth2(next, errors)
  // Sign-in methods that are not built yet are refused rather than stored and silently ignored
  // (a collection would look protected by MFA and be not). The disabled defaults, which the SDK
  // and PocketBase's exports send for collections that do not use them, pass.
  validateOtpMfa(next, prev, ctx, errors)
  validatePhoneAuth(next, errors)
  if (next.passwordAuth.enabled) {
    const fields = next.passwordAuth.identityFields
    if (!fields.length) setError(errors, ['passwordAuth', 'identityFields'], required())
    for (const name of fields) {
      if (!next.fields.some((f) => f.name === name)) {
        set(['passwordAuth', 'identityFields'], 'validation_missing_field', `Invalid or missing field ${name}`)
        break
      }
      if (!findSingleColumnUniqueIndex(next.indexes, name)) {
        set(['passwordAuth', 'identityFields'], 'validation_missing_unique_constraint', `The field ${name} doesn't have a UNIQUE constraint.`)
        break
      }
    }
  }
}

/** Seconds within PocketBase's bounds for OTP and MFA durations (checked only while the method is on). */
function checkDuration(value: number, path: string[], errors: ErrorTree): void {
  if (!value) setError(errors, path, required())
  else if (value < 10) setError(errors, path, fieldError('validation_min_greater_equal_than_required', 'Must be no less than 10.'))
  else if (value > 86400) setError(errors, path, fieldError('validation_max_less_equal_than_required', 'Must be no greater than 86400.'))
}

/**
 * PocketBase's checks of `otp`, `mfa` and `authAlert`: durations and length only while enabled,
 * mail templates always (they may be used on their own), MFA only with two sign-in methods on,
 * and its rule compiled like an API rule.
 */
function validateOtpMfa(next: AuthCollection, prev: AuthCollection | undefined, ctx: ValidateContext, errors: ErrorTree): void {
  if (next.otp.enabled) {
    checkDuration(next.otp.duration, ['otp', 'duration'], errors)
    if (!next.otp.length) setError(errors, ['otp', 'length'], required())
    else if (next.otp.length < 4) setError(errors, ['otp', 'length'], fieldError('validation_min_greater_equal_than_required', 'Must be no less than 4.'))
    // Not PocketBase's: a longer code is no safer than a random password and would not fit the field.
    else if (next.otp.length > 64) setError(errors, ['otp', 'length'], fieldError('validation_max_less_equal_than_required', 'Must be no greater than 64.'))
  }
  for (const key of ['otp', 'authAlert'] as const) {
    for (const part of ['subject', 'body'] as const) {
      if (!next[key].emailTemplate[part].trim()) setError(errors, [key, 'emailTemplate', part], required())
    }
  }
  if (!next.mfa.enabled) return
  checkDuration(next.mfa.duration, ['mfa', 'duration'], errors)
  const methods = [next.passwordAuth.enabled, next.oauth2.enabled, next.otp.enabled, next.phoneAuth.enabled].filter(Boolean).length
  if (methods < 2) {
    setError(errors, ['mfa', 'enabled'], fieldError('validation_mfa_not_enough_auths', 'MFA requires at least 2 auth methods to be enabled.'))
    return
  }
  checkRule(next, next.mfa.rule, ['mfa', 'rule'], ctx, errors)
  if (prev?.system && prev.mfa.rule !== next.mfa.rule) {
    setError(errors, ['mfa', 'rule'], fieldError('validation_collection_system_rule_change', 'System collection API rule cannot be changed.'))
  }
}

/**
 * Plinth's `phoneAuth`: checked only while on. Codes of 4 to 10 digits, valid 1 minute to 1 hour
 * (an SMS can take a while; a longer life only helps guessing); the numbers live in a text field
 * named `phone` with a single-column unique index.
 */
function validatePhoneAuth(next: AuthCollection, errors: ErrorTree): void {
  const p = next.phoneAuth
  if (!p.enabled) return
  if (!Number.isInteger(p.length) || p.length < 4 || p.length > 10) setError(errors, ['phoneAuth', 'length'], fieldError('validation_invalid_value', 'Must be a whole number from 4 to 10.'))
  if (!Number.isInteger(p.duration) || p.duration < 60 || p.duration > 3600) setError(errors, ['phoneAuth', 'duration'], fieldError('validation_invalid_value', 'Must be a whole number of seconds from 60 to 3600.'))
  const field = next.fields.find((f) => f.name === 'phone')
  if (field?.type !== 'text') setError(errors, ['phoneAuth', 'enabled'], fieldError('validation_invalid_value', 'Phone sign-in needs a text field named phone.'))
  // One number, one account: a code must never be able to sign in to two records.
  else if (!findSingleColumnUniqueIndex(next.indexes, 'phone')) setError(errors, ['phoneAuth', 'enabled'], fieldError('validation_invalid_value', 'Phone sign-in needs a unique index on phone.'))
}
