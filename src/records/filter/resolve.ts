import { sql, type RawBuilder, type SqlBool } from 'kysely'
import { storageKind } from '../columns.ts'
import { findField, isMulti, type Collection, type Field } from '../model.ts'
import type { FilterDialect } from './dialect.ts'
import { filterError } from './lexer.ts'
import { macroValue } from './macros.ts'
import type { Kind, Predicate, Resolved } from './operand.ts'
import type { FilterScope } from './scope.ts'

/** PocketBase's limit on relation hops in one path. */
const MAX_DEPTH = 6
const viaPattern = /^(\w+)_via_(\w+)$/

export interface ResolveContext {
  scope: FilterScope
  dialect: FilterDialect
  /** Fresh table aliases for subqueries. */
  nextAlias(): string
}

/** How a single-valued field compares, from how it is stored. */
function kindOf(field: Field): Kind {
  const stored = storageKind(field)
  return stored === 'number' || stored === 'bool' || stored === 'json' ? stored : 'text'
}

function fieldOrThrow(ctx: ResolveContext, collection: Collection, name: string): Field {
  const field = findField(collection, name)
  if (!field) throw filterError(`unknown field "${name}"`)
  if (field.hidden && !ctx.scope.allowHidden) throw filterError(`field "${name}" cannot be filtered`)
  return field
}

function splitModifier(segment: string): [string, string | undefined] {
  const i = segment.indexOf(':')
  return i < 0 ? [segment, undefined] : [segment.slice(0, i), segment.slice(i + 1)]
}

const from = (c: Collection, alias: string) => sql`${sql.table(c.name)} as ${sql.id(alias)}`

/**
 * Puts `inner` (resolved on a row `alias` of `c`) under a subquery over the rows where `where`
 * holds: a value becomes a scalar subquery (a single relation), a set an EXISTS.
 */
function within(c: Collection, alias: string, where: RawBuilder<SqlBool>, inner: Resolved): Resolved {
  if (inner.t === 'col') return { t: 'col', sql: sql`(select ${inner.sql} from ${from(c, alias)} where ${where})`, kind: inner.kind, nullable: true }
  if (inner.t === 'set') {
    return { ...inner, exists: (p: Predicate) => sql<SqlBool>`exists (select 1 from ${from(c, alias)} where ${where} and ${inner.exists(p)})` }
  }
  return inner
}

/** Every row of `c` whose `where` holds contributes its `inner` value: a set. */
function rowsOf(c: Collection, alias: string, where: RawBuilder<SqlBool> | undefined, inner: Resolved, anyOnly: boolean): Resolved {
  const cond = (extra: RawBuilder<SqlBool>) => (where ? sql<SqlBool>`${where} and ${extra}` : extra)
  if (inner.t === 'col') {
    return { t: 'set', kind: inner.kind, anyOnly, exists: (p) => sql<SqlBool>`exists (select 1 from ${from(c, alias)} where ${cond(p(inner.sql))})` }
  }
  if (inner.t === 'set') {
    return { t: 'set', kind: inner.kind, anyOnly: anyOnly || inner.anyOnly, exists: (p) => sql<SqlBool>`exists (select 1 from ${from(c, alias)} where ${cond(inner.exists(p))})` }
  }
  return inner
}

/**
 * Resolves the path `segments` on a row of `collection` aliased `alias`.
 * Single relations become scalar subqueries; multi values and back-relations become sets.
 */
function resolvePath(ctx: ResolveContext, collection: Collection, alias: string, segments: string[], depth: number): Resolved {
  if (depth > MAX_DEPTH) throw filterError('too many relation hops')
  const [rawName, modifier] = splitModifier(segments[0]!)
  const rest = segments.slice(1)
  if (modifier && rest.length) throw filterError(`modifier ":${modifier}" must end the path`)
  const via = findField(collection, rawName) ? undefined : viaPattern.exec(rawName)
  if (via) return resolveBackRelation(ctx, collection, alias, via[1]!, via[2]!, rest, depth, modifier)
  const field = fieldOrThrow(ctx, collection, rawName)
  const column = sql.ref(`${alias}.${field.name}`)
  // Columns of views and json fields may be NULL; the storage conventions keep the rest NOT NULL.
  const nullable = collection.type === 'view' || field.type === 'json'

  // The whole json value too reads through the JSON path (`j = 5`, `j = ''` match scalars, as in
  // PocketBase); a geoPoint is JSON too (`place.lon`). NB: not a view's whole json column, which
  // may be any computed text (not JSON: PostgreSQL would fail to cast it).
  const whole = rest.length === 0 && collection.type === 'view'
  if ((field.type === 'json' || field.type === 'geoPoint') && !modifier && !whole) {
    return { t: 'col', sql: ctx.dialect.jsonExtract(column, rest), kind: 'json', nullable: true }
  }
  if (field.type === 'relation' && rest.length) {
    const target = ctx.scope.registry.get(field.collectionId)
    if (!target) throw filterError(`relation "${field.name}" points at a missing collection`)
    const r = ctx.nextAlias()
    const inner = resolvePath(ctx, target, r, rest, depth + 1)
    if (!isMulti(field)) return within(target, r, sql<SqlBool>`${sql.ref(`${r}.id`)} = ${column}`, inner)
    const e = ctx.dialect.arrayElements(column, ctx.nextAlias())
    return rowsOf(target, r, sql<SqlBool>`${sql.ref(`${r}.id`)} in (select ${e.v} from ${e.from})`, inner, false)
  }
  if (rest.length) throw filterError(`"${field.name}" has no field "${rest.join('.')}"`)

  if (isMulti(field)) {
    if (modifier === 'length') return { t: 'col', sql: ctx.dialect.arrayLength(column), kind: 'number', nullable: false }
    if (modifier && modifier !== 'each' && modifier !== 'lower') throw filterError(`unknown modifier ":${modifier}"`)
    // One alias for every rendering: each is its own subquery, so the name never clashes.
    const itemAlias = ctx.nextAlias()
    return {
      t: 'set',
      kind: 'text',
      anyOnly: false,
      raw: modifier ? undefined : column,
      exists: (p) => {
        const e = ctx.dialect.arrayElements(column, itemAlias)
        return sql<SqlBool>`exists (select 1 from ${e.from} where ${p(modifier === 'lower' ? sql`lower(${e.v})` : e.v)})`
      },
    }
  }
  if (modifier === 'lower') return { t: 'col', sql: sql`lower(${column})`, kind: 'text', nullable }
  if (modifier === 'length' && ['text', 'editor', 'email', 'url'].includes(field.type)) {
    return { t: 'col', sql: sql`length(${column})`, kind: 'number', nullable }
  }
  if (modifier) throw filterError(`modifier ":${modifier}" is not supported on "${field.name}"`)
  return { t: 'col', sql: column, kind: kindOf(field), nullable }
}

function resolveBackRelation(
  ctx: ResolveContext,
  collection: Collection,
  alias: string,
  sourceName: string,
  fieldName: string,
  rest: string[],
  depth: number,
  modifier: string | undefined,
): Resolved {
  const source = ctx.scope.registry.get(sourceName)
  const relField = source && findField(source, fieldName)
  if (!source || !relField || relField.type !== 'relation' || relField.collectionId !== collection.id) {
    throw filterError(`unknown back-relation "${sourceName}_via_${fieldName}"`)
  }
  if (relField.hidden && !ctx.scope.allowHidden) throw filterError(`field "${fieldName}" cannot be filtered`)
  const r = ctx.nextAlias()
  const relColumn = sql.ref(`${r}.${relField.name}`)
  let linked: RawBuilder<SqlBool>
  if (isMulti(relField)) {
    const e = ctx.dialect.arrayElements(relColumn, ctx.nextAlias())
    linked = sql<SqlBool>`${sql.ref(`${alias}.id`)} in (select ${e.v} from ${e.from})`
  } else {
    linked = sql<SqlBool>`${relColumn} = ${sql.ref(`${alias}.id`)}`
  }
  if (modifier === 'length' && rest.length === 0) {
    return { t: 'col', sql: sql`(select count(*) from ${from(source, r)} where ${linked})`, kind: 'number', nullable: false }
  }
  if (modifier) throw filterError(`modifier ":${modifier}" is not supported on back-relations`)
  const inner: Resolved = rest.length ? resolvePath(ctx, source, r, rest, depth + 1) : { t: 'col', sql: sql.ref(`${r}.id`), kind: 'text', nullable: false }
  return rowsOf(source, r, linked, inner, false)
}

/** A request value as a constant: scalars as they are, anything else as JSON text. */
function constant(value: unknown): Resolved {
  if (value === undefined || value === null) return { t: 'const', value: null }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { t: 'const', value }
  return { t: 'const', value: JSON.stringify(value) }
}

function resolveAuth(ctx: ResolveContext, path: string[]): Resolved {
  const auth = ctx.scope.request.auth
  if (path.length === 0) throw filterError('"@request.auth" needs a field, like @request.auth.id')
  const [name, modifier] = splitModifier(path[0]!)
  // A guest is an empty record: every field is '' (PocketBase's form), so `@request.auth.id != ''` works.
  if (!auth) return { t: 'const', value: '' }
  if (path.length === 1 && (name === 'collectionName' || name === 'collectionId')) {
    return { t: 'const', value: name === 'collectionName' ? auth.collection.name : auth.collection.id }
  }
  const field = findField(auth.collection, name)
  if (!field) throw filterError(`unknown field "@request.auth.${name}"`)
  if (path.length === 1 && !isMulti(field)) {
    const value = auth.record[field.name]
    if (modifier === 'lower') return constant(typeof value === 'string' ? value.toLowerCase() : value)
    if (modifier) throw filterError(`modifier ":${modifier}" is not supported on "@request.auth.${name}"`)
    return constant(value)
  }
  // Deeper paths and multi values: resolve on the auth record's own row.
  const r = ctx.nextAlias()
  const inner = resolvePath(ctx, auth.collection, r, path, 1)
  return within(auth.collection, r, sql<SqlBool>`${sql.ref(`${r}.id`)} = ${auth.record.id}`, inner)
}

function resolveRequest(ctx: ResolveContext, parts: string[]): Resolved {
  const request = ctx.scope.request
  const [section, ...rest] = parts
  const [sectionName, sectionModifier] = splitModifier(section ?? '')
  switch (sectionName) {
    case 'method':
      return { t: 'const', value: request.method.toUpperCase() }
    case 'context':
      return { t: 'const', value: request.context }
    case 'auth':
      return resolveAuth(ctx, rest)
    case 'headers':
    case 'query':
    case 'body': {
      if (rest.length !== 1 || sectionModifier) throw filterError(`"@request.${sectionName}" needs one key, like @request.${sectionName}.name`)
      const [key, modifier] = splitModifier(rest[0]!)
      const source: Record<string, unknown> = sectionName === 'headers' ? request.headers : sectionName === 'query' ? request.query : request.body
      const has = Object.prototype.hasOwnProperty.call(source, key)
      const value = has ? source[key] : undefined
      if (modifier === 'isset') return { t: 'const', value: has }
      if (modifier === 'length') return { t: 'const', value: Array.isArray(value) ? value.length : value === undefined || value === null || value === '' ? 0 : 1 }
      if (modifier === 'lower') return constant(typeof value === 'string' ? value.toLowerCase() : value)
      if (modifier) throw filterError(`unknown modifier ":${modifier}"`)
      return constant(value)
    }
    default:
      throw filterError(`unknown "@request.${sectionName}"`)
  }
}

/**
 * `@collection.NAME.field` or `@collection.NAME:alias.field`: like a multi value over every row of
 * that collection (plain operators need ALL rows to match, `?` operators ANY, as in PocketBase).
 * NB: each comparison is its own EXISTS, so two comparisons on one alias may match two different
 * rows (PocketBase joins them to one row); write such conditions against a relation.
 */
function resolveCollectionRef(ctx: ResolveContext, parts: string[]): Resolved {
  const [ref, ...path] = parts
  const [name] = splitModifier(ref ?? '')
  const target = name ? ctx.scope.registry.get(name) : undefined
  if (!target) throw filterError(`unknown collection "@collection.${name ?? ''}"`)
  if (path.length === 0) throw filterError(`"@collection.${name}" needs a field`)
  const r = ctx.nextAlias()
  return rowsOf(target, r, undefined, resolvePath(ctx, target, r, path, 1), false)
}

/** Resolves one identifier of a filter (a field path, `@request.*`, `@collection.*`, a macro). */
export function resolveIdent(ctx: ResolveContext, name: string): Resolved {
  const macro = macroValue(name)
  if (macro !== undefined) return { t: 'const', value: macro }
  const parts = name.split('.')
  if (parts.some((p) => p === '')) throw filterError(`malformed identifier "${name}"`)
  if (parts[0] === '@request') return resolveRequest(ctx, parts.slice(1))
  if (parts[0] === '@collection') return resolveCollectionRef(ctx, parts.slice(1))
  if (name.startsWith('@')) throw filterError(`unknown identifier "${name}"`)
  const { collection } = ctx.scope
  return resolvePath(ctx, collection, ctx.scope.alias ?? collection.name, parts, 0)
}
