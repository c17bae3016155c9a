import { hashPassword, verifyPassword } from './password-hash.ts'
import type { FieldError } from '../../errors.ts'
import { isAuthCollection, isMulti, nowDate, type Collection, type Field } from '../model.ts'
import type { RecordJson } from '../record.ts'
import { MAX_JSON_DEPTH, hasNul, inspectJsonValue, jsonTextTooDeep, toBool, toDate, toGeoPoint, toJsonText, toNumber, toStr, toUniqueStrings } from './cast.ts'
import { fileName, isUploadedFile, toFileList, type UploadedFile } from './file-values.ts'
import { isForbiddenKey } from './forbidden-keys.ts'
import { randomFromPattern } from './random.ts'
import { compiledPattern, validateTextValue } from './text-rules.ts'
import type { PrepareContext, PreparedRecord } from './types.ts'
import type { ValidationCode } from '../../validation-codes.ts'

const EDITOR_MAX = 5 << 20
const JSON_MAX = 1 << 20
const FILE_MAX = 5 << 20
const EMAIL = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/

const err = (code: ValidationCode, message: string, params?: Record<string, unknown>): FieldError => (params ? { code, message, params } : { code, message })
const REQUIRED = err('validation_required', 'Cannot be blank.')
/** Not PocketBase's (SQLite stores NUL): PostgreSQL cannot, so every engine refuses it alike. */
const NUL_ERROR = err('validation_invalid_value', 'Invalid value (NUL characters are not allowed).')
/** Not PocketBase's (Go's parser allows 10,000): deep values break readers and MariaDB's JSON check. */
const jsonTooDeep = (maxDepth: number) => err('validation_invalid_json', `JSON values may nest at most ${maxDepth} levels`, { maxDepth })

/** The submitted keys, without the ones that could reach an object's prototype. */
function readInput(input: Record<string, unknown>): Map<string, unknown> {
  const m = new Map<string, unknown>()
  for (const k of Object.keys(input)) if (!isForbiddenKey(k)) m.set(k, input[k])
  return m
}

function validEmail(v: string): boolean {
  return v.length <= 254 && EMAIL.test(v)
}

function urlHost(v: string): string | undefined {
  for (const candidate of [v, `http://${v}`]) {
    try {
      const u = new URL(candidate)
      if (u.host && (candidate === v || u.hostname.includes('.'))) return u.host
    } catch {
      // try the next form
    }
  }
  return undefined
}

/** Applies `field`, `+field`, `field+`, `field-` to a list value. */
function listModifiers<T>(data: Map<string, unknown>, name: string, current: T[], read: (v: unknown) => T[], key: (v: T) => string): { list: T[]; touched: boolean } {
  let list = current
  let touched = false
  // NB: linear (a Set of keys): bodies can carry 100k ids, and a quadratic de-duplication takes minutes.
  const uniq = (xs: T[]) => {
    const seen = new Set<string>()
    return xs.filter((x) => {
      const k = key(x)
      if (seen.has(k)) return false
      seen.add(k)
      return true
    })
  }
  if (data.has(name)) {
    list = read(data.get(name))
    touched = true
  }
  if (data.has('+' + name)) {
    list = uniq([...read(data.get('+' + name)), ...list])
    touched = true
  }
  if (data.has(name + '+')) {
    list = uniq([...list, ...read(data.get(name + '+'))])
    touched = true
  }
  if (data.has(name + '-')) {
    const remove = new Set(read(data.get(name + '-')).map(key))
    list = list.filter((x) => !remove.has(key(x)))
    touched = true
  }
  return { list, touched }
}

interface FieldOutcome {
  /** The column value, when the column is written. */
  column?: unknown
  write: boolean
  error?: FieldError
  /** The value `@request.body.{field}` sees, when it differs from the column (lists, booleans). */
  body?: unknown
}

/** The body keys that set a field: its name and the modifiers its type accepts. */
function fieldKeys(f: Field): string[] {
  switch (f.type) {
    case 'number':
      return [f.name, f.name + '+', f.name + '-']
    case 'select':
    case 'relation':
    case 'file':
      return [f.name, '+' + f.name, f.name + '+', f.name + '-']
    case 'text':
      return [f.name, f.name + ':autogenerate']
    case 'autodate':
      return [] // submitted values are ignored, so the body keeps them as sent
    default:
      return [f.name]
  }
}

/** A field's resolved value as the rules' `@request.body` holds it (PocketBase's `record.Get`). */
function bodyValue(f: Field, out: FieldOutcome, raw: unknown): unknown {
  if (out.body !== undefined) return out.body
  if (out.column === undefined) return raw
  switch (f.type) {
    case 'bool':
      return out.column === 1
    case 'json':
    case 'password':
      return raw
    default:
      return out.column
  }
}

/**
 * Validates and converts submitted values (see index.ts for the contract). Field errors use
 * PocketBase's codes; the first error of each field is reported.
 */
export async function prepareRecord(
  collection: Collection,
  input: Record<string, unknown>,
  existing: RecordJson | undefined,
  ctx: PrepareContext,
): Promise<PreparedRecord> {
  const data = readInput(input)
  const isNew = !existing
  const isAuth = collection.type === 'auth'
  const values: Record<string, unknown> = {}
  const errors: Record<string, FieldError> = {}
  const now = nowDate()
  let passwordChanged = false
  const jsonDepth = Math.min(MAX_JSON_DEPTH, ctx.capabilities.maxJsonDepth ?? MAX_JSON_DEPTH)
  // `@request.body` for the rules: the submitted keys, with every field's keys (plain and
  // modifiers) replaced by the field's value after the modifiers, under its plain name (as
  // PocketBase's ReplaceModifiers), so `owner+` or `+role` is checked exactly like `owner`/`role`.
  const body: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [k, v] of data) body[k] = v

  for (const f of collection.fields) {
    const keys = fieldKeys(f)
    for (const k of keys) delete body[k]
    // Hidden fields are set only by superusers (the auth password is the exception).
    if (f.hidden && !ctx.isSuperuser && !(isAuth && f.name === 'password')) {
      for (const k of keys) data.delete(k)
    }
    const submitted = keys.some((k) => data.has(k))
    const out = await prepareField(f, data, existing, isNew, now, jsonDepth)
    if (f.type === 'password' && out.write && !isNew) passwordChanged = true
    if (out.error) errors[f.name] = out.error
    if (out.write) values[f.name] = out.column
    if (submitted) body[f.name] = bodyValue(f, out, data.get(f.name))
  }

  if (isAuth) {
    checkAuthForm(data, existing, ctx, errors)
    // With phone sign-in on, a number is set only by its code (auth-with-sms-code) or a manager:
    // a number set freely would let its owner receive the real owner's sign-ins.
    if (!ctx.isSuperuser && isAuthCollection(collection) && collection.phoneAuth.enabled && data.has('phone') && toStr(data.get('phone')) !== toStr(existing?.phone ?? '')) {
      errors.phone ??= err('validation_values_mismatch', "Values don't match.")
    }
    const tokenKey = collection.fields.find((f) => f.name === 'tokenKey')
    if (passwordChanged && tokenKey?.type === 'text' && !data.has('tokenKey')) {
      // A new password signs out every session: PocketBase refreshes tokenKey with it.
      values.tokenKey = randomFromPattern(tokenKey.autogeneratePattern || '[a-zA-Z0-9]{50}')
    }
    if (errors.oldPassword === undefined && !isNew && !ctx.isSuperuser && data.has('password') && toStr(data.get('password')) !== '') {
      const old = toStr(data.get('oldPassword'))
      const hash = toStr(existing?.password)
      if (!old) errors.oldPassword = REQUIRED
      else if (ctx.deferOldPassword) return { values, errors, body: { ...body }, oldPasswordPending: true }
      else {
        // A stolen session must not become a password oracle: the check is throttled like a sign-in.
        const attempt = await ctx.passwordAttempt?.()
        if (!hash || !(await verifyPassword(old, hash))) errors.oldPassword = err('validation_invalid_old_password', 'Missing or invalid old password.')
        else await attempt?.succeeded()
      }
    }
  }
  return { values, errors, body: { ...body } }
}

/** PocketBase's auth form checks: passwordConfirm, and what only managers may change. */
function checkAuthForm(data: Map<string, unknown>, existing: RecordJson | undefined, ctx: PrepareContext, errors: Record<string, FieldError>): void {
  const password = toStr(data.get('password'))
  const confirm = toStr(data.get('passwordConfirm'))
  const isNew = !existing
  if (!isNew && password === '' && (confirm !== '' || toStr(data.get('oldPassword')) !== '')) errors.password ??= REQUIRED
  if ((isNew || password !== '') && confirm === '') errors.passwordConfirm ??= REQUIRED
  else if (confirm !== password) errors.passwordConfirm ??= err('validation_values_mismatch', "Values don't match.")
  if (!ctx.isSuperuser && existing) {
    if (data.has('email') && toStr(data.get('email')) !== existing.email) errors.email ??= err('validation_values_mismatch', "Values don't match.")
    if (data.has('verified') && toBool(data.get('verified')) !== existing.verified) errors.verified ??= err('validation_values_mismatch', "Values don't match.")
  }
  if (!ctx.isSuperuser && isNew && data.has('verified') && toBool(data.get('verified'))) {
    errors.verified ??= err('validation_values_mismatch', "Values don't match.")
  }
}

async function prepareField(f: Field, data: Map<string, unknown>, existing: RecordJson | undefined, isNew: boolean, now: string, jsonDepth: number): Promise<FieldOutcome> {
  const cur = existing?.[f.name]
  switch (f.type) {
    case 'text': {
      let v = toStr(cur)
      let touched = false
      if (data.has(f.name)) {
        v = toStr(data.get(f.name))
        touched = true
      }
      if (data.has(f.name + ':autogenerate')) {
        v = toStr(data.get(f.name + ':autogenerate')) + (f.autogeneratePattern ? randomFromPattern(f.autogeneratePattern) : '')
        touched = true
      }
      if (f.primaryKey && !isNew) {
        if (touched && v !== toStr(cur)) return { write: false, error: err('validation_pk_change', 'The record primary key cannot be changed.') }
        return { write: false }
      }
      if (isNew && v === '' && f.autogeneratePattern) v = randomFromPattern(f.autogeneratePattern)
      return { column: v, write: isNew || touched, error: hasNul(v) ? NUL_ERROR : validateTextValue(f, v) }
    }
    case 'email':
    case 'url':
    case 'editor': {
      const touched = data.has(f.name)
      const v = touched ? toStr(data.get(f.name)) : toStr(cur)
      let error: FieldError | undefined
      if (f.required && v === '') error = REQUIRED
      else if (hasNul(v)) error = NUL_ERROR
      else if (v !== '' && f.type === 'email') {
        const domain = v.slice(v.lastIndexOf('@') + 1)
        if (!validEmail(v)) error = err('validation_is_email', 'Must be a valid email address.')
        else if ((f.onlyDomains?.length && !f.onlyDomains.includes(domain)) || f.exceptDomains?.includes(domain)) {
          error = err('validation_email_domain_not_allowed', 'Email domain is not allowed')
        }
      } else if (v !== '' && f.type === 'url') {
        const host = urlHost(v)
        if (host === undefined) error = err('validation_invalid_url', 'Must be a valid url')
        else if ((f.onlyDomains?.length && !f.onlyDomains.includes(host)) || f.exceptDomains?.includes(host)) {
          error = err('validation_url_domain_not_allowed', 'Url domain is not allowed')
        }
      } else if (f.type === 'editor') {
        const max = f.maxSize > 0 ? f.maxSize : EDITOR_MAX
        if (Buffer.byteLength(v) > max) error = err('validation_content_size_limit', `The maximum allowed content size is ${max} bytes`, { maxSize: max })
      }
      return { column: v, write: isNew || touched, error }
    }
    case 'number': {
      let v = toNumber(cur)
      let touched = false
      if (data.has(f.name)) {
        v = toNumber(data.get(f.name))
        touched = true
      }
      if (data.has(f.name + '+')) {
        v += toNumber(data.get(f.name + '+'))
        touched = true
      }
      if (data.has(f.name + '-')) {
        v -= toNumber(data.get(f.name + '-'))
        touched = true
      }
      let error: FieldError | undefined
      if (!Number.isFinite(v)) error = err('validation_not_a_number', 'The submitted number is not properly formatted')
      else if (v === 0) error = f.required ? REQUIRED : undefined
      else if (f.onlyInt && !Number.isInteger(v)) error = err('validation_only_int_constraint', 'Decimal numbers are not allowed')
      else if (f.min !== null && v < f.min) error = err('validation_min_number_constraint', `Must be greater or equal than ${f.min}`, { min: f.min })
      else if (f.max !== null && v > f.max) error = err('validation_max_number_constraint', `Must be less or equal than ${f.max}`, { max: f.max })
      return { column: Number.isFinite(v) ? v : 0, write: isNew || touched, error }
    }
    case 'bool': {
      const touched = data.has(f.name)
      const v = touched ? toBool(data.get(f.name)) : toBool(cur)
      // NB: 1/0 binds on every driver (better-sqlite3 rejects JS booleans; PostgreSQL reads '1'/'0' as boolean).
      return { column: v ? 1 : 0, write: isNew || touched, error: f.required && !v ? REQUIRED : undefined }
    }
    case 'date': {
      const touched = data.has(f.name)
      const v = touched ? toDate(data.get(f.name)) : toStr(cur)
      let error: FieldError | undefined
      if (v === '') error = f.required ? REQUIRED : undefined
      else if (f.min && v < toDate(f.min)) error = err('validation_min_greater_equal_than_required', `Must be no less than ${toDate(f.min)}.`, { threshold: toDate(f.min) })
      else if (f.max && v > toDate(f.max)) error = err('validation_max_less_equal_than_required', `Must be no greater than ${toDate(f.max)}.`, { threshold: toDate(f.max) })
      return { column: v, write: isNew || touched, error }
    }
    case 'autodate': {
      // Submitted values are ignored, as in PocketBase.
      if (isNew && (f.onCreate || f.onUpdate)) return { column: now, write: true }
      if (!isNew && f.onUpdate) return { column: now, write: true }
      return { column: toStr(cur), write: isNew }
    }
    case 'select':
    case 'relation': {
      const { list, touched } = listModifiers(data, f.name, toUniqueStrings(cur), toUniqueStrings, (x) => x)
      const final = isMulti(f) ? list : list.slice(-1)
      const maxSelect = Math.max(f.maxSelect, 1)
      let error: FieldError | undefined
      // Too many values is checked before anything that looks at each value (and before the
      // relation lookup, which the service skips for a field with an error): 100k ids cost one pass.
      if (!final.length) error = f.required ? REQUIRED : undefined
      else if (f.type === 'relation' && f.minSelect > 0 && final.length < f.minSelect) error = err('validation_not_enough_values', `Select at least ${f.minSelect}`, { minSelect: f.minSelect })
      else if (list.length > maxSelect && isMulti(f)) error = err('validation_too_many_values', `Select no more than ${maxSelect}`, { maxSelect })
      else if (final.some(hasNul)) error = NUL_ERROR
      else if (f.type === 'select') {
        const allowed = new Set(f.values)
        const bad = final.find((x) => !allowed.has(x))
        if (bad !== undefined) error = err('validation_invalid_value', `Invalid value ${bad}`, { value: bad })
      }
      return { column: isMulti(f) ? JSON.stringify(final) : (final[0] ?? ''), write: isNew || touched, error, body: isMulti(f) ? final : (final[0] ?? '') }
    }
    case 'file': {
      const before = toFileList(cur).map(fileName)
      const { list, touched } = listModifiers(data, f.name, before as (string | UploadedFile)[], toFileList, fileName)
      const final = isMulti(f) ? list : list.slice(-1)
      const maxSelect = Math.max(f.maxSelect, 1)
      let error: FieldError | undefined
      const known = new Set(before)
      const unknown = final.filter((x): x is string => typeof x === 'string' && !known.has(x))
      if (!final.length) error = f.required ? REQUIRED : undefined
      else if (unknown.length) error = err('validation_invalid_file', `Invalid new files: ${unknown.map((s) => s.slice(0, 250)).join(', ')}.`, { invalidFiles: unknown.map((s) => s.slice(0, 250)) })
      else if (list.length > maxSelect) error = err('validation_too_many_files', `The maximum allowed files is ${maxSelect}`, { maxSelect })
      else {
        const max = f.maxSize > 0 ? f.maxSize : FILE_MAX
        for (const up of final.filter(isUploadedFile)) {
          if (up.size > max) {
            error = err('validation_file_size_limit', `Failed to upload ${up.originalName.slice(0, 300)} - the maximum allowed file size is ${max} bytes.`, { file: up.originalName.slice(0, 300), maxSize: max })
            break
          }
          if (f.mimeTypes.length && !f.mimeTypes.includes(up.mimeType)) {
            error = err('validation_invalid_mime_type', `Failed to upload "${up.originalName.slice(0, 300)}" due to unsupported file type.`)
            break
          }
        }
      }
      const names = final.map(fileName)
      return { column: isMulti(f) ? JSON.stringify(names) : (names[0] ?? ''), write: isNew || touched, error, body: isMulti(f) ? names : (names[0] ?? '') }
    }
    case 'json': {
      const touched = data.has(f.name)
      const raw = data.get(f.name)
      // NB: depth first, without recursion: JSON.stringify of a 100,000-deep value overflows the
      // stack (a 500), and a stored one breaks every later read of the collection.
      if (touched && typeof raw === 'object' && raw !== null && inspectJsonValue(raw, jsonDepth).deep) return { write: false, error: jsonTooDeep(jsonDepth) }
      const text = touched ? toJsonText(raw) : cur === undefined || cur === null ? undefined : JSON.stringify(cur)
      const max = f.maxSize > 0 ? f.maxSize : JSON_MAX
      let error: FieldError | undefined
      if (touched && text !== undefined && jsonTextTooDeep(text, jsonDepth)) return { write: false, error: jsonTooDeep(jsonDepth) }
      if (touched && text !== undefined && text.includes('\\u0000') && inspectJsonValue(JSON.parse(text)).nul) error = NUL_ERROR
      else if (text !== undefined && Buffer.byteLength(text) > max) error = err('validation_json_size_limit', `The maximum allowed JSON size is ${max} bytes`, { maxSize: max })
      else if (f.required && (text === undefined || ['null', '""', '[]', '{}', ''].includes(text.trim()))) error = REQUIRED
      return { column: text ?? null, write: isNew || touched, error }
    }
    case 'geoPoint': {
      const touched = data.has(f.name)
      const point = toGeoPoint(touched ? data.get(f.name) : cur)
      let error: FieldError | undefined
      if (point.lon === 0 && point.lat === 0) error = f.required ? REQUIRED : undefined
      else if (point.lat < -90 || point.lat > 90) error = err('validation_invalid_latitude', 'Latitude must be between -90 and 90 degrees.')
      else if (point.lon < -180 || point.lon > 180) error = err('validation_invalid_longitude', 'Longitude must be between -180 and 180 degrees.')
      return { column: JSON.stringify(point), write: isNew || touched, error }
    }
    case 'password': {
      const touched = data.has(f.name)
      const plain = touched ? toStr(data.get(f.name)) : ''
      const hash = plain !== '' ? await hashPassword(plain) : toStr(cur)
      let error: FieldError | undefined
      const length = [...plain].length
      const max = f.max > 0 ? f.max : 71
      if (f.required && hash === '') error = REQUIRED
      else if (plain !== '' && length < f.min) error = err('validation_min_text_constraint', `Must be at least ${f.min} character(s)`)
      else if (plain !== '' && length > max) error = err('validation_max_text_constraint', `Must be less than ${max} character(s)`)
      else if (plain !== '' && f.pattern && !compiledPattern(f.pattern)?.test(plain)) error = err('validation_invalid_format', 'Invalid value format')
      return { column: hash, write: isNew || plain !== '', error }
    }
  }
}
