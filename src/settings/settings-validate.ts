import { Type, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { isEmailAddress } from '../auth/email.ts'
import { RATE_LIMIT_LABEL } from '../config/schema.ts'
import { ApiError } from '../errors.ts'
import { checkCron } from '../jobs/cron.ts'
import type { ValidationCode } from '../validation-codes.ts'
import { setPath, type Settings } from './settings-model.ts'

const Str = (max = 2000) => Type.String({ maxLength: max })
const Int = (min = 0) => Type.Integer({ minimum: min, maximum: 2 ** 31 })
const S3 = Type.Partial(Type.Object({ enabled: Type.Boolean(), bucket: Str(255), region: Str(255), endpoint: Str(), accessKey: Str(), secret: Str(), forcePathStyle: Type.Boolean() }))

/**
 * `PATCH /api/settings`: any part of PocketBase's settings object; keys it does not know are
 * ignored (as PocketBase's binding does), wrong types are a 400 naming the field. Arrays are
 * bounded: 200 rate limit rules, 10 proxy headers.
 */
export const SettingsPatch = Type.Partial(
  Type.Object({
    meta: Type.Partial(Type.Object({ appName: Str(255), appURL: Str(), senderName: Str(255), senderAddress: Str(255), hideControls: Type.Boolean() })),
    logs: Type.Partial(Type.Object({ maxDays: Int(), minLevel: Type.Integer({ minimum: -1000, maximum: 1000 }), logIP: Type.Boolean(), logAuthId: Type.Boolean() })),
    smtp: Type.Partial(Type.Object({ enabled: Type.Boolean(), port: Int(), host: Str(255), username: Str(), password: Str(), authMethod: Str(16), tls: Type.Boolean(), localName: Str(255) })),
    s3: S3,
    backups: Type.Partial(Type.Object({ cron: Str(255), cronMaxKeep: Int(), s3: S3 })),
    batch: Type.Partial(Type.Object({ enabled: Type.Boolean(), maxRequests: Int(), timeout: Int(), maxBodySize: Type.Integer({ minimum: 0 }) })),
    rateLimits: Type.Partial(
      Type.Object({
        enabled: Type.Boolean(),
        rules: Type.Array(
          Type.Object({
            label: Str(255),
            audience: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('@guest'), Type.Literal('@auth')])),
            duration: Type.Integer({ maximum: 86400 }),
            maxRequests: Type.Integer({ maximum: 2 ** 31 }),
          }),
          { maxItems: 200 },
        ),
      }),
    ),
    trustedProxy: Type.Partial(Type.Object({ headers: Type.Array(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), { maxItems: 10 }), useLeftmostIP: Type.Boolean() })),
  }),
)

type Errors = Record<string, unknown>
const err = (code: ValidationCode | string, message: string) => ({ code, message })

/** The body with unknown keys dropped, or a 400 naming the first field of a wrong type. */
export function parsePatch(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('bad_request', 'An error occurred while loading the submitted data.')
  const clean = Value.Clean(SettingsPatch as TSchema, structuredClone(body)) as Record<string, unknown>
  const first = Value.Errors(SettingsPatch, clean).First()
  if (first) {
    const data: Errors = {}
    setPath(data, first.path.replace(/^\//, '').replaceAll('/', '.'), err('validation_invalid_value', 'Invalid value.'))
    throw new ApiError('bad_request', 'An error occurred while loading the submitted data.', data)
  }
  // PocketBase's rules always carry an audience ('' = everyone).
  const rules = (clean.rateLimits as { rules?: { audience?: string }[] } | undefined)?.rules
  for (const rule of rules ?? []) rule.audience ??= ''
  return clean
}

const hostPattern = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\d{1,3}(\.\d{1,3}){3}$|^\[?[0-9a-fA-F:]+\]?$/
const labelPattern = new RegExp(RATE_LIMIT_LABEL)

function isUrl(value: string): boolean {
  try {
    const u = new URL(value)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== ''
  } catch {
    return false
  }
}

/**
 * PocketBase's checks of a whole settings object (its `PostValidate`), as its nested errors:
 * `{meta: {appURL: {code, message}}, rateLimits: {rules: {0: {label: ...}}}}`. Empty when valid.
 */
export function settingsErrors(s: Settings): Errors {
  const out: Errors = {}
  const add = (path: string, code: string, message: string) => setPath(out, path, err(code, message))
  const required = (path: string, v: string) => v.trim() === '' && (add(path, 'validation_required', 'Cannot be blank.'), true)

  if (!required('meta.appName', s.meta.appName) && s.meta.appName.length > 255) add('meta.appName', 'validation_length_out_of_range', 'The length must be between 1 and 255.')
  if (!required('meta.appURL', s.meta.appURL) && !isUrl(s.meta.appURL)) add('meta.appURL', 'validation_is_url', 'Must be a valid URL.')
  if (!required('meta.senderName', s.meta.senderName) && s.meta.senderName.length > 255) add('meta.senderName', 'validation_length_out_of_range', 'The length must be between 1 and 255.')
  if (!required('meta.senderAddress', s.meta.senderAddress) && !isEmailAddress(s.meta.senderAddress)) add('meta.senderAddress', 'validation_is_email', 'Must be a valid email address.')

  if (s.smtp.enabled) {
    if (!required('smtp.host', s.smtp.host) && !hostPattern.test(s.smtp.host)) add('smtp.host', 'validation_is_host', 'Must be a valid hostname or IP address.')
    if (s.smtp.port === 0) add('smtp.port', 'validation_required', 'Cannot be blank.')
  }
  if (s.smtp.authMethod !== '' && s.smtp.authMethod !== 'PLAIN' && s.smtp.authMethod !== 'LOGIN') add('smtp.authMethod', 'validation_in_invalid', 'Must be a valid value.')
  if (s.smtp.localName !== '' && !hostPattern.test(s.smtp.localName)) add('smtp.localName', 'validation_is_host', 'Must be a valid hostname or IP address.')

  if (s.backups.cron !== '') {
    try {
      checkCron('backups', s.backups.cron)
    } catch {
      add('backups.cron', 'validation_invalid_cron', 'Invalid cron expression.')
    }
    if (s.backups.cronMaxKeep < 1) add('backups.cronMaxKeep', 'validation_min_greater_equal_than_required', 'Must be no less than 1.')
  }

  if (s.batch.enabled) {
    if (s.batch.maxRequests === 0) add('batch.maxRequests', 'validation_required', 'Cannot be blank.')
    if (s.batch.timeout === 0) add('batch.timeout', 'validation_required', 'Cannot be blank.')
  }

  if (s.rateLimits.enabled && s.rateLimits.rules.length === 0) add('rateLimits.rules', 'validation_required', 'Cannot be blank.')
  const seen: string[] = []
  for (const [i, rule] of s.rateLimits.rules.entries()) {
    const at = `rateLimits.rules.${i}`
    if (!required(`${at}.label`, rule.label) && !labelPattern.test(rule.label)) add(`${at}.label`, 'validation_match_invalid', 'Must be in a valid format.')
    if (rule.maxRequests < 1) add(`${at}.maxRequests`, rule.maxRequests === 0 ? 'validation_required' : 'validation_min_greater_equal_than_required', rule.maxRequests === 0 ? 'Cannot be blank.' : 'Must be no less than 1.')
    if (rule.duration < 1) add(`${at}.duration`, rule.duration === 0 ? 'validation_required' : 'validation_min_greater_equal_than_required', rule.duration === 0 ? 'Cannot be blank.' : 'Must be no less than 1.')
    const key = `${rule.label}@@${rule.audience}`
    // PocketBase's own test: a label that equals another (for the same audience) conflicts.
    if (seen.some((k) => k.startsWith(key) || key.startsWith(k))) add(`${at}.label`, 'validation_conflicting_rate_limit_rule', `Rate limit rule configuration with label ${rule.label} already exists or conflicts with another rule.`)
    else seen.push(key)
  }
  return out
}
