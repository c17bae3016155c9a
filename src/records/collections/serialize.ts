import type { ValidationCode } from '../../validation-codes.ts'
import type { AuthCollection, AuthOptions, Collection, CollectionType, EmailTemplate, Field, Rule, TokenConfig } from '../model.ts'
import { isAuthCollection } from '../model.ts'
import { normalizeField } from '../fields/definition.ts'
import { defaultAuthOptions } from './defaults.ts'
import { mergeProviders } from './oauth2-options.ts'

/** `_collections` rows <-> collections, API input -> collections, collections -> API JSON. */

export interface CollectionRow {
  id: string
  type: string
  name: string
  system: unknown
  fields: unknown
  indexes: unknown
  listRule: string | null
  viewRule: string | null
  createRule: string | null
  updateRule: string | null
  deleteRule: string | null
  options: unknown
  created: string
  updated: string
}

const TOKENS = ['authToken', 'passwordResetToken', 'emailChangeToken', 'verificationToken', 'fileToken'] as const
const RULES = ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule'] as const

function parseJson(v: unknown, fallback: unknown): unknown {
  if (typeof v !== 'string') return v ?? fallback
  try {
    return JSON.parse(v)
  } catch {
    return fallback
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function rowToCollection(row: CollectionRow): Collection {
  const fields = (parseJson(row.fields, []) as unknown[]).filter(isObject).map((f) => normalizeField(f)).filter((f): f is Field => !!f)
  const options = parseJson(row.options, {})
  const c: Collection = {
    id: row.id,
    name: row.name,
    type: row.type as CollectionType,
    system: row.system === true || row.system === 1 || row.system === '1',
    fields,
    indexes: (parseJson(row.indexes, []) as unknown[]).filter((s): s is string => typeof s === 'string'),
    listRule: row.listRule,
    viewRule: row.viewRule,
    createRule: row.createRule,
    updateRule: row.updateRule,
    deleteRule: row.deleteRule,
    created: row.created,
    updated: row.updated,
  }
  if (c.type === 'view') c.viewQuery = isObject(options) && typeof options.viewQuery === 'string' ? options.viewQuery : ''
  if (c.type === 'auth') Object.assign(c, mergeAuthOptions(defaultAuthOptions(), isObject(options) ? options : {}))
  return c
}

/** The options column: auth options (secrets included) or the view query. */
export function collectionOptions(c: Collection): Record<string, unknown> {
  if (c.type === 'view') return { viewQuery: c.viewQuery ?? '' }
  if (isAuthCollection(c)) {
    const out: Record<string, unknown> = {}
    for (const k of authOptionKeys) out[k] = c[k]
    return out
  }
  return {}
}

export function collectionToRow(c: Collection): CollectionRow {
  return {
    id: c.id, type: c.type, name: c.name, system: c.system ? 1 : 0,
    fields: JSON.stringify(c.fields), indexes: JSON.stringify(c.indexes),
    listRule: c.listRule, viewRule: c.viewRule, createRule: c.createRule, updateRule: c.updateRule, deleteRule: c.deleteRule,
    options: JSON.stringify(collectionOptions(c)), created: c.created, updated: c.updated,
  }
}

const authOptionKeys = [
  'authRule', 'manageRule', 'passwordAuth', ...TOKENS, 'oauth2', 'mfa', 'otp', 'authAlert', 'phoneAuth',
] as const satisfies readonly (keyof AuthOptions)[]

const asRule = (v: unknown): Rule => (v === null ? null : typeof v === 'string' ? v : null)
const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() && Number.isFinite(Number(v)) ? Number(v) : d)
const bool = (v: unknown, d: boolean) => (typeof v === 'boolean' ? v : d)

/** Overlays submitted auth options on `base`. An empty or missing token secret keeps the current one. */
export function mergeAuthOptions(base: AuthOptions, input: Record<string, unknown>): AuthOptions {
  const out: AuthOptions = structuredClone(base)
  if ('authRule' in input) out.authRule = asRule(input.authRule)
  if ('manageRule' in input) out.manageRule = asRule(input.manageRule)
  for (const k of TOKENS) {
    const t = input[k]
    if (!isObject(t)) continue
    const cur: TokenConfig = out[k]
    cur.duration = num(t.duration, cur.duration)
    if (typeof t.secret === 'string' && t.secret !== '') cur.secret = t.secret
  }
  const pa = input.passwordAuth
  if (isObject(pa)) {
    out.passwordAuth.enabled = bool(pa.enabled, out.passwordAuth.enabled)
    if (Array.isArray(pa.identityFields)) out.passwordAuth.identityFields = [...new Set(pa.identityFields.filter((s): s is string => typeof s === 'string'))]
  }
  const o2 = input.oauth2
  if (isObject(o2)) {
    out.oauth2.enabled = bool(o2.enabled, out.oauth2.enabled)
    if (Array.isArray(o2.providers)) out.oauth2.providers = mergeProviders(o2.providers, base.oauth2.providers)
    if (isObject(o2.mappedFields)) {
      for (const [k, v] of Object.entries(o2.mappedFields)) if (typeof v === 'string') out.oauth2.mappedFields[k] = v
    }
  }
  const mfa = input.mfa
  if (isObject(mfa)) {
    out.mfa.enabled = bool(mfa.enabled, out.mfa.enabled)
    out.mfa.duration = num(mfa.duration, out.mfa.duration)
    if (typeof mfa.rule === 'string') out.mfa.rule = mfa.rule
  }
  const otp = input.otp
  if (isObject(otp)) {
    out.otp.enabled = bool(otp.enabled, out.otp.enabled)
    out.otp.duration = num(otp.duration, out.otp.duration)
    out.otp.length = num(otp.length, out.otp.length)
    mergeTemplate(out.otp.emailTemplate, otp.emailTemplate)
  }
  const alert = input.authAlert
  if (isObject(alert)) {
    out.authAlert.enabled = bool(alert.enabled, out.authAlert.enabled)
    mergeTemplate(out.authAlert.emailTemplate, alert.emailTemplate)
  }
  const phone = input.phoneAuth
  if (isObject(phone)) {
    out.phoneAuth.enabled = bool(phone.enabled, out.phoneAuth.enabled)
    out.phoneAuth.allowSignUp = bool(phone.allowSignUp, out.phoneAuth.allowSignUp)
    out.phoneAuth.duration = num(phone.duration, out.phoneAuth.duration)
    out.phoneAuth.length = num(phone.length, out.phoneAuth.length)
  }
  return out
}

/** Overlays a submitted `{subject, body}` (either may be left out); validation refuses empty ones. */
function mergeTemplate(target: EmailTemplate, input: unknown): void {
  if (!isObject(input)) return
  if (typeof input.subject === 'string') target.subject = input.subject
  if (typeof input.body === 'string') target.body = input.body
}

export interface InputProblem {
  path: string[]
  code: ValidationCode
  message: string
}

/**
 * Overlays API input on a collection (a copy of the current one on update, a blank one on create),
 * the way PocketBase binds a request body onto its model. `fields`, when given, replaces the list.
 * Returns problems that make the input unreadable (unknown field types and the like).
 */
export function applyInput(target: Collection, input: Record<string, unknown>): InputProblem[] {
  const problems: InputProblem[] = []
  if (typeof input.name === 'string') target.name = input.name
  if (typeof input.system === 'boolean') target.system = input.system
  for (const r of RULES) if (r in input) target[r] = asRule(input[r])
  if ('indexes' in input) {
    if (Array.isArray(input.indexes)) target.indexes = input.indexes.map((s) => (typeof s === 'string' ? s : ''))
    else if (input.indexes === null) target.indexes = []
    else problems.push({ path: ['indexes'], code: 'validation_invalid_value', message: 'Must be an array of strings.' })
  }
  if (target.type === 'view' && typeof input.viewQuery === 'string') target.viewQuery = input.viewQuery
  if (isAuthCollection(target)) Object.assign(target, mergeAuthOptions(target, input))
  if ('fields' in input) {
    if (!Array.isArray(input.fields)) {
      problems.push({ path: ['fields'], code: 'validation_invalid_value', message: 'Must be an array of fields.' })
    } else {
      const fields: Field[] = []
      input.fields.forEach((raw, i) => {
        const f = isObject(raw) ? normalizeField(raw) : undefined
        if (f) fields.push(f)
        else problems.push({ path: ['fields', String(i), 'type'], code: 'validation_unknown_field_type', message: 'Missing or unknown field type.' })
      })
      target.fields = fields
    }
  }
  return problems
}

/** An OAuth2 provider as served: without its `clientSecret`, as PocketBase serves it. */
function publicProvider(p: unknown): unknown {
  if (!isObject(p)) return p
  const { clientSecret: _secret, ...rest } = p
  return rest
}

/**
 * The API form: PocketBase's JSON with token secrets and OAuth2 client secrets left out (they
 * never leave the server, in any collection response).
 */
export function collectionToJson(c: Collection): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: c.id, listRule: c.listRule, viewRule: c.viewRule, createRule: c.createRule, updateRule: c.updateRule, deleteRule: c.deleteRule,
    name: c.name, type: c.type, fields: c.fields, indexes: c.indexes, system: c.system, created: c.created, updated: c.updated,
  }
  if (c.type === 'view') out.viewQuery = c.viewQuery ?? ''
  if (isAuthCollection(c)) {
    const opts = collectionOptions(c)
    for (const k of TOKENS) opts[k] = { duration: (c as AuthCollection)[k].duration }
    const oauth2 = (c as AuthCollection).oauth2
    opts.oauth2 = { ...oauth2, providers: oauth2.providers.map(publicProvider) }
    Object.assign(out, opts)
  }
  return out
}
