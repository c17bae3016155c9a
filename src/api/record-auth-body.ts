import { FormatRegistry, Type, type Static, type TObject } from '@sinclair/typebox'
import { Value, ValueErrorType } from '@sinclair/typebox/value'
import { isEmailAddress } from '../auth/email.ts'
import { validationError, type FieldError } from '../errors.ts'

/**
 * Request bodies of the auth endpoints: TypeBox schemas (also fed to the OpenAPI document) and a
 * reader that returns PocketBase's per-field error codes (`validation_required`, ...).
 */

export const isEmail = isEmailAddress
if (!FormatRegistry.Has('email')) FormatRegistry.Set('email', isEmail)

const text = (max = 255) => Type.String({ minLength: 1, maxLength: max })

export const AuthWithPasswordBody = Type.Object({
  identity: text(),
  password: text(),
  identityField: Type.Optional(Type.String({ maxLength: 255 })),
})
export const EmailBody = Type.Object({ email: Type.String({ minLength: 1, maxLength: 255, format: 'email' }) })
export const TokenBody = Type.Object({ token: Type.String({ minLength: 1 }) })
export const ConfirmPasswordResetBody = Type.Object({
  token: Type.String({ minLength: 1 }),
  password: text(),
  passwordConfirm: Type.String({ minLength: 1 }),
})
export const RequestEmailChangeBody = Type.Object({ newEmail: Type.String({ minLength: 1, maxLength: 255, format: 'email' }) })
export const ConfirmEmailChangeBody = Type.Object({ token: Type.String({ minLength: 1 }), password: text(100) })

function fieldError(type: ValueErrorType, value: unknown, schema: { minLength?: number; maxLength?: number }): FieldError {
  if (type === ValueErrorType.ObjectRequiredProperty || value === '' || value === undefined || value === null) {
    return { code: 'validation_required', message: 'Cannot be blank.' }
  }
  if (type === ValueErrorType.StringMinLength || type === ValueErrorType.StringMaxLength) return lengthError(schema.minLength ?? 0, schema.maxLength ?? 0)
  if (type === ValueErrorType.StringFormat) return { code: 'validation_is_email', message: 'Must be a valid email address.' }
  return { code: 'validation_invalid_value', message: 'Invalid value.' }
}

/** ozzo-validation's `Length(min, max)` error, as PocketBase sends it (code, message, params). */
export function lengthError(min: number, max: number): FieldError {
  const params = { min, max }
  if (min === 0 && max > 0) return { code: 'validation_length_too_long', message: `The length must be no more than ${max}.`, params }
  if (min > 0 && max > 0 && min === max) return { code: 'validation_length_invalid', message: `The length must be exactly ${min}.`, params }
  if (min > 0 && max > 0) return { code: 'validation_length_out_of_range', message: `The length must be between ${min} and ${max}.`, params }
  if (min > 0) return { code: 'validation_length_too_short', message: `The length must be no less than ${min}.`, params }
  return { code: 'validation_length_empty_required', message: 'The value must be empty.', params }
}

/**
 * Picks the schema's own properties from a parsed body (anything else, `__proto__` and
 * `constructor` included, is ignored) and validates them. Throws a 400 with every failing field.
 */
export function readBody<S extends TObject>(schema: S, body: unknown): Static<S> {
  const source = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    if (Object.hasOwn(source, key) && source[key] !== undefined && source[key] !== null) picked[key] = source[key]
  }
  const errors: Record<string, FieldError> = {}
  for (const e of Value.Errors(schema, picked)) {
    const field = e.path.replace(/^\//, '').split('/')[0] ?? ''
    if (!field || errors[field]) continue
    errors[field] = fieldError(e.type, picked[field], schema.properties[field] as { minLength?: number; maxLength?: number })
  }
  if (Object.keys(errors).length) throw validationError(errors, 'An error occurred while validating the submitted data.')
  return picked as Static<S>
}
