import { sql, type RawBuilder, type SqlBool } from 'kysely'
import { findField, isMulti, type Field } from '../model.ts'
import { Comparer, FALSE } from './compare.ts'
import { filterError } from './lexer.ts'
import type { Resolved } from './operand.ts'
import { constant, hopAlias, reachable, resolvePath, rowsOf, splitModifier, within, type ResolveContext } from './resolve.ts'

/** Items of one body value a rule may expand (`:each`, relation ids); a multi field's maxSelect is far below. */
const MAX_BODY_ITEMS = 1000

/** A body value as a list: an array as it is, nothing as none, anything else as one item. */
function items(value: unknown): unknown[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]
  if (list.length > MAX_BODY_ITEMS) throw filterError(`@request.body value has more than ${MAX_BODY_ITEMS} items`)
  return list
}

const itemText = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v))

/** Distinct non-empty ids a relation value in the body names. */
function ids(value: unknown): string[] {
  return [...new Set(items(value).map(itemText).filter((x) => x !== ''))]
}

/** `@request.body.x:each`: every item of the submitted value (an empty value is no items). */
function each(field: Field | undefined, value: unknown): Resolved {
  const numeric = field?.type === 'number'
  const list = items(value).map((v) => (numeric ? Number(v) : itemText(v)))
  return {
    t: 'set',
    kind: numeric ? 'number' : 'text',
    anyOnly: false,
    exists: (p) => (list.length === 0 ? FALSE : sql<SqlBool>`(${sql.join(list.map((v) => p(sql`${v}`)), sql` or `)})`),
  }
}

/**
 * `@request.body.x:changed` (PocketBase v0.34): the body sets `x` to a value other than the
 * record's current one. Multi values compare as sets of items.
 */
function changed(ctx: ResolveContext, field: Field, has: boolean, value: unknown): Resolved {
  if (!has) return { t: 'const', value: false }
  const { scope } = ctx
  const alias = scope.alias ?? scope.collection.name
  const current = resolvePath(ctx, scope.collection, alias, [field.name], 0)
  const comparer = new Comparer(ctx.dialect, scope.capabilities)
  let differs: RawBuilder<SqlBool>
  if (isMulti(field) && current.t === 'set') {
    const list = ids(value)
    const inBody = (v: RawBuilder<unknown>) => (list.length ? sql<SqlBool>`${v} in (${sql.join(list.map((x) => sql`${x}`))})` : FALSE)
    const missing = list.map((x) => sql<SqlBool>`not ${current.exists((v) => sql<SqlBool>`${v} = ${x}`)}`)
    differs = sql<SqlBool>`(${current.exists((v) => sql<SqlBool>`not ${inBody(v)}`)}${sql.join(missing.map((m) => sql` or ${m}`), sql``)})`
  } else if (current.t === 'col') {
    differs = comparer.compare('!=', constant(value), current)
  } else {
    throw filterError(`modifier ":changed" is not supported on "${field.name}"`)
  }
  const [yes, no] = scope.capabilities.nativeBoolean ? [sql`true`, sql`false`] : [sql`1`, sql`0`]
  return { t: 'col', sql: sql`(case when ${differs} then ${yes} else ${no} end)`, kind: 'bool', nullable: false }
}

/** `@request.body.rel.path`: the path on the record(s) whose ids the body gives for a relation. */
function throughRelation(ctx: ResolveContext, field: Field & { type: 'relation' }, value: unknown, rest: string[]): Resolved {
  const target = ctx.scope.registry.get(field.collectionId)
  if (!target) throw filterError(`relation "${field.name}" points at a missing collection`)
  const list = ids(value)
  if (list.length === 0) return { t: 'const', value: null }
  const r = hopAlias(ctx)
  const visible = reachable(ctx, target, r)
  const inner = resolvePath(ctx, target, r, rest, 1)
  const idRef = sql.ref(`${r}.id`)
  const where = sql<SqlBool>`${idRef} in (${sql.join(list.map((x) => sql`${x}`))})`
  const cond = visible ? sql<SqlBool>`(${where} and ${visible})` : where
  if (!isMulti(field)) return within(target, r, sql<SqlBool>`(${cond} and ${idRef} = ${list[0]!})`, inner)
  return rowsOf(target, r, cond, inner, false)
}

/** A nested key of a submitted object (`@request.body.meta.a`), or undefined. */
function nested(value: unknown, keys: string[]): unknown {
  let v = value
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[k]
  }
  return v
}

/**
 * `@request.body.*`: the submitted values (after `x+`/`x-` modifiers were applied), with
 * `:isset`, `:length`, `:lower`, `:each`, `:changed`, and paths through relation fields.
 * NB: every value is a bound parameter.
 */
export function resolveBody(ctx: ResolveContext, rest: string[]): Resolved {
  if (rest.length === 0) throw filterError('"@request.body" needs one key, like @request.body.name')
  const body = ctx.scope.request.body
  const [key, modifier] = splitModifier(rest[0]!)
  if (rest.length > 1 && modifier) throw filterError(`modifier ":${modifier}" must end the path`)
  const has = Object.prototype.hasOwnProperty.call(body, key)
  const value = has ? body[key] : undefined
  const field = findField(ctx.scope.collection, key)
  if (rest.length > 1) {
    if (field?.type === 'relation') return throughRelation(ctx, field, value, rest.slice(1))
    const [last, lastModifier] = splitModifier(rest[rest.length - 1]!)
    const v = nested(value, [...rest.slice(1, -1), last])
    if (lastModifier === 'lower') return constant(typeof v === 'string' ? v.toLowerCase() : v)
    if (lastModifier === 'isset') return { t: 'const', value: v !== undefined }
    if (lastModifier) throw filterError(`unknown modifier ":${lastModifier}"`)
    return constant(v)
  }
  switch (modifier) {
    case undefined:
      return constant(value)
    case 'isset':
      return { t: 'const', value: has }
    case 'length':
      return { t: 'const', value: Array.isArray(value) ? value.length : value === undefined || value === null || value === '' ? 0 : 1 }
    case 'lower':
      return constant(typeof value === 'string' ? value.toLowerCase() : value)
    case 'each':
      return each(field, value)
    case 'changed':
      if (!field) throw filterError(`"@request.body.${key}:changed" needs a field of the collection`)
      return changed(ctx, field, has, value)
    default:
      throw filterError(`unknown modifier ":${modifier}"`)
  }
}
