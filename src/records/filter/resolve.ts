import { sql, type RawBuilder, type SqlBool } from 'kysely'
import { storageKind } from '../columns.ts'
import { findField, isAuthCollection, isMulti, type Collection, type Field } from '../model.ts'
import type { SqlFragments } from '../../sql/dialect.ts'
import { compileFilter } from './index.ts'
import { filterError } from './lexer.ts'
import { macroValue } from './macros.ts'
import { resolveBody } from './request-body.ts'
import type { Kind, Predicate, Resolved } from './operand.ts'
import type { FilterScope } from './scope.ts'

/** PocketBase's limit on relation hops in one path. */
const MAX_DEPTH = 6
/** Distinct `@collection` rows one expression may join (each multiplies the rows scanned). */
const MAX_COLLECTION_JOINS = 4
const viaPattern = /^(\w+)_via_(\w+)$/

export interface ResolveContext {
  scope: FilterScope
  dialect: SqlFragments
  /** Fresh table aliases for subqueries. */
  nextAlias(): string
  /** The `@collection` rows this expression joins, one per alias (or unaliased name). */
  joins: Map<string, CollectionJoin>
}

/** How a single-valued field compares, from how it is stored. */
function kindOf(field: Field): Kind {
  const stored = storageKind(field)
  return stored === 'number' || stored === 'bool' || stored === 'json' ? stored : 'text'
}

/**
 * Password hashes and token keys: no filter, sort or rule may read them, not even a superuser's or
 * on one's own record (a rule could otherwise be an oracle on a hash; credentials are checked in
 * constant time by the auth code, never through SQL).
 */
function isSecret(collection: Collection, field: Field): boolean {
  return field.type === 'password' || (isAuthCollection(collection) && field.name === 'tokenKey')
}

function fieldOrThrow(ctx: ResolveContext, collection: Collection, name: string): Field {
  const field = findField(collection, name)
  if (!field) throw filterError(`unknown field "${name}"`)
  if (isSecret(collection, field)) throw filterError(`field "${name}" cannot be filtered`)
  if (field.hidden && !ctx.scope.allowHidden) throw filterError(`field "${name}" cannot be filtered`)
  // NB: the column holds ciphertext (a fresh IV each write): a comparison would silently match
  // nothing, and a guest must not get to probe stored bytes. Refused for everyone, rules too.
  if (field.encrypt) throw filterError(`field "${name}" is encrypted at rest and cannot be filtered or sorted`)
  return field
}

export function splitModifier(segment: string): [string, string | undefined] {
  const i = segment.indexOf(':')
  return i < 0 ? [segment, undefined] : [segment.slice(0, i), segment.slice(i + 1)]
}

const from = (c: Collection, alias: string) => sql`${sql.table(c.name)} as ${sql.id(alias)}`

/** `where` and `extra`, either of which may be absent. */
function both(where: RawBuilder<SqlBool> | undefined, extra: RawBuilder<SqlBool> | undefined): RawBuilder<SqlBool> | undefined {
  return where && extra ? sql<SqlBool>`(${where} and ${extra})` : (where ?? extra)
}

/**
 * A table alias for a hop into another collection. In a client's query (no `allowHidden`) the
 * target's list rule is compiled onto this alias by a nested compile, whose own aliases are
 * `__f<n>`: the `r` suffix keeps them from capturing it.
 */
export function hopAlias(ctx: ResolveContext): string {
  return ctx.scope.allowHidden ? ctx.nextAlias() : `${ctx.nextAlias()}r`
}

/**
 * Which rows of `target` (aliased `alias`) a client's filter or sort may reach through a relation,
 * back-relation or `@collection`: those its list rule lets the caller list (PocketBase v0.31+).
 * A superuser-only target (rule `null`) cannot be reached at all; rules and superusers reach all.
 * Every hop also carries the engine's statement guard, where it has one: the hops are where work
 * grows with the data (a subquery per row), so that is where a statement past its time stops.
 */
export function reachable(ctx: ResolveContext, target: Collection, alias: string): RawBuilder<SqlBool> | undefined {
  const { scope } = ctx
  const guard = scope.capabilities.statementGuard
  const guarded = (cond: RawBuilder<SqlBool> | undefined) => both(cond, guard === undefined ? undefined : sql<SqlBool>`${sql.raw(guard)}`)
  if (scope.allowHidden) return guarded(undefined)
  const rule = target.listRule
  if (rule === null) throw filterError(`"${target.name}" fields can be accessed only by superusers`)
  if (rule.trim() === '') return guarded(undefined)
  return guarded(compileFilter(rule, { ...scope, collection: target, alias, allowHidden: true }))
}

/**
 * Puts `inner` (resolved on a row `alias` of `c`) under a subquery over the rows where `where`
 * holds: a value becomes a scalar subquery (a single relation), a set an EXISTS.
 */
export function within(c: Collection, alias: string, where: RawBuilder<SqlBool>, inner: Resolved): Resolved {
  if (inner.t === 'col') return { t: 'col', sql: sql`(select ${inner.sql} from ${from(c, alias)} where ${where})`, kind: inner.kind, nullable: true }
  if (inner.t === 'set') {
    return { ...inner, exists: (p: Predicate) => sql<SqlBool>`exists (select 1 from ${from(c, alias)} where ${where} and ${inner.exists(p)})` }
  }
  return inner
}

/** Every row of `c` whose `where` holds contributes its `inner` value: a set. */
export function rowsOf(c: Collection, alias: string, where: RawBuilder<SqlBool> | undefined, inner: Resolved, anyOnly: boolean): Resolved {
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
export function resolvePath(ctx: ResolveContext, collection: Collection, alias: string, segments: string[], depth: number): Resolved {
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
    // `rel.id` is the stored value itself: no subquery, so the relation's index serves a rule such
    // as `author.id = @request.auth.id`. Only where the target's rows need no visibility check
    // (rules, superusers, a target everyone may list); relations drop the ids of deleted records.
    if (rest.length === 1 && rest[0] === 'id' && (ctx.scope.allowHidden || target.listRule?.trim() === '')) {
      const value = resolvePath(ctx, collection, alias, [field.name], depth)
      return value.t === 'set' ? { ...value, raw: undefined } : value
    }
    const r = hopAlias(ctx)
    const visible = reachable(ctx, target, r)
    const inner = resolvePath(ctx, target, r, rest, depth + 1)
    if (!isMulti(field)) return within(target, r, both(sql<SqlBool>`${sql.ref(`${r}.id`)} = ${column}`, visible)!, inner)
    const e = ctx.dialect.arrayElements(column, ctx.nextAlias())
    return rowsOf(target, r, both(sql<SqlBool>`${sql.ref(`${r}.id`)} in (select ${e.v} from ${e.from})`, visible), inner, false)
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
  // NB: a hidden email reads as NULL, so no comparison (not even `!=`) matches it: no oracle.
  const value = field.name === 'email' && isAuthCollection(collection) ? emailValue(ctx, collection, alias, column) : column
  if (modifier === 'lower') return { t: 'col', sql: sql`lower(${value})`, kind: 'text', nullable }
  if (modifier === 'length' && ['text', 'editor', 'email', 'url'].includes(field.type)) {
    return { t: 'col', sql: sql`length(${value})`, kind: 'number', nullable }
  }
  if (modifier) throw filterError(`modifier ":${modifier}" is not supported on "${field.name}"`)
  return { t: 'col', sql: value, kind: kindOf(field), nullable }
}

/**
 * An auth record's email as a client's filter or sort may read it: the email where the caller may
 * see it (emailVisibility on, the caller's own record, a record the caller manages through the
 * collection's manageRule), else NULL. Rules and superusers read every email.
 */
function emailValue(ctx: ResolveContext, collection: Collection, alias: string, column: RawBuilder<unknown>): RawBuilder<unknown> {
  const { scope } = ctx
  if (scope.allowHidden) return column
  const t = scope.capabilities.nativeBoolean ? sql`${true}` : sql`${1}`
  const visible: RawBuilder<SqlBool>[] = [sql<SqlBool>`${sql.ref(`${alias}.emailVisibility`)} = ${t}`]
  const auth = scope.request.auth
  if (auth && auth.collection.id === collection.id) visible.push(sql<SqlBool>`${sql.ref(`${alias}.id`)} = ${auth.record.id}`)
  const manageRule = isAuthCollection(collection) ? collection.manageRule : null
  if (auth && manageRule !== null && manageRule.trim() !== '') {
    visible.push(compileFilter(manageRule, { ...scope, collection, alias, allowHidden: true }))
  }
  return sql`(case when (${sql.join(visible, sql` or `)}) then ${column} else null end)`
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
  const r = hopAlias(ctx)
  const visible = reachable(ctx, source, r)
  const relColumn = sql.ref(`${r}.${relField.name}`)
  let linked: RawBuilder<SqlBool>
  if (isMulti(relField)) {
    const e = ctx.dialect.arrayElements(relColumn, ctx.nextAlias())
    linked = sql<SqlBool>`${sql.ref(`${alias}.id`)} in (select ${e.v} from ${e.from})`
  } else {
    linked = sql<SqlBool>`${relColumn} = ${sql.ref(`${alias}.id`)}`
  }
  linked = both(linked, visible)!
  if (modifier === 'length' && rest.length === 0) {
    return { t: 'col', sql: sql`(select count(*) from ${from(source, r)} where ${linked})`, kind: 'number', nullable: false }
  }
  if (modifier) throw filterError(`modifier ":${modifier}" is not supported on back-relations`)
  const inner: Resolved = rest.length ? resolvePath(ctx, source, r, rest, depth + 1) : { t: 'col', sql: sql.ref(`${r}.id`), kind: 'text', nullable: false }
  return rowsOf(source, r, linked, inner, false)
}

/** A request value as a constant: scalars as they are, anything else as JSON text. */
export function constant(value: unknown): Resolved {
  if (value === undefined || value === null) return { t: 'const', value: null }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { t: 'const', value }
  return { t: 'const', value: JSON.stringify(value) }
}

function resolveAuth(ctx: ResolveContext, path: string[]): Resolved {
  const auth = ctx.scope.request.auth
  if (path.length === 0) throw filterError('"@request.auth" needs a field, like @request.auth.id')
  const [name, modifier] = splitModifier(path[0]!)
  // A guest is an empty record: every field is '' (PocketBase's form), so `@request.auth.id != ''` works.
  // The auth collection is unknown for a guest: refuse the built-in secrets by name all the same.
  if (name === 'password' || name === 'tokenKey') throw filterError(`field "@request.auth.${name}" cannot be filtered`)
  if (!auth) return { t: 'const', value: '' }
  if (path.length === 1 && (name === 'collectionName' || name === 'collectionId')) {
    return { t: 'const', value: name === 'collectionName' ? auth.collection.name : auth.collection.id }
  }
  const field = findField(auth.collection, name)
  if (!field) throw filterError(`unknown field "@request.auth.${name}"`)
  if (isSecret(auth.collection, field)) throw filterError(`field "@request.auth.${name}" cannot be filtered`)
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
    case 'body':
      if (sectionModifier) throw filterError('"@request.body" needs one key, like @request.body.name')
      return resolveBody(ctx, rest)
    case 'headers':
    case 'query': {
      if (rest.length !== 1 || sectionModifier) throw filterError(`"@request.${sectionName}" needs one key, like @request.${sectionName}.name`)
      const [key, modifier] = splitModifier(rest[0]!)
      const source: Record<string, unknown> = sectionName === 'headers' ? request.headers : request.query
      const has = Object.prototype.hasOwnProperty.call(source, key)
      const value = has ? source[key] : undefined
      if (modifier === 'isset') return { t: 'const', value: has }
      if (modifier === 'length') return { t: 'const', value: value === undefined || value === null || value === '' ? 0 : 1 }
      if (modifier === 'lower') return constant(typeof value === 'string' ? value.toLowerCase() : value)
      if (modifier) throw filterError(`unknown modifier ":${modifier}"`)
      return constant(value)
    }
    default:
      throw filterError(`unknown "@request.${sectionName}"`)
  }
}

export interface CollectionJoin {
  target: Collection
  alias: string
  on: RawBuilder<SqlBool> | undefined
}

/**
 * `@collection.NAME.path` or `@collection.NAME:alias.path`: the path on ONE row of that collection,
 * the same row for every reference to that alias (or to the unaliased NAME) in one expression, as
 * PocketBase joins it. The row ranges over the collection (a row of NULLs when it has none) in an
 * EXISTS that `withCollectionJoins` puts around the whole expression, so `a && b` on one alias needs
 * one row that matches both, `a || b` any rows, as PocketBase's LEFT JOIN + DISTINCT means.
 * `?` operators test that row; plain operators (`=`) need every row of the collection to match,
 * PocketBase's multi-match, through an independent scan (`scan`).
 */
function resolveCollectionRef(ctx: ResolveContext, parts: string[]): Resolved {
  const [ref, ...path] = parts
  const [name, aliasName] = splitModifier(ref ?? '')
  const target = name ? ctx.scope.registry.get(name) : undefined
  if (!target) throw filterError(`unknown collection "@collection.${name ?? ''}"`)
  if (path.length === 0) throw filterError(`"@collection.${name}" needs a field`)
  if (aliasName !== undefined && !/^\w+$/.test(aliasName)) throw filterError(`invalid alias "@collection.${ref ?? ''}"`)
  const key = aliasName === undefined ? `name:${target.id}` : `alias:${aliasName}`
  const { joins } = ctx
  let join = joins.get(key)
  if (join && join.target.id !== target.id) throw filterError(`alias "${aliasName ?? ''}" names two collections`)
  if (!join) {
    if (joins.size >= MAX_COLLECTION_JOINS) throw filterError(`at most ${MAX_COLLECTION_JOINS} @collection rows in one expression`)
    const alias = `${ctx.nextAlias()}c`
    join = { target, alias, on: reachable(ctx, target, alias) }
    joins.set(key, join)
  }
  const inner = resolvePath(ctx, target, join.alias, path, 1)
  if (inner.t !== 'col') return inner
  // Plain operators need every row to match: the same path on an independent scan of the collection.
  const scanAlias = `${ctx.nextAlias()}c`
  const scanOn = reachable(ctx, target, scanAlias)
  const scanned = resolvePath(ctx, target, scanAlias, path, 1)
  if (scanned.t !== 'col') return inner
  const where = (p: Predicate) => (scanOn ? sql<SqlBool>`${scanOn} and ${p(scanned.sql)}` : p(scanned.sql))
  return {
    t: 'set',
    kind: inner.kind,
    anyOnly: false,
    exists: (p) => p(inner.sql),
    scan: (p) => sql<SqlBool>`exists (select 1 from ${from(target, scanAlias)} where ${where(p)})`,
  }
}

/**
 * Puts the compiled expression `where` inside one EXISTS over the `@collection` rows it named:
 * true when some choice of those rows makes it true. A collection without rows still gives one
 * row of NULLs (LEFT JOIN), so the parts of the expression that do not read it still count.
 * NB: MariaDB has no LATERAL; the rows are joined in the subquery and `where` stays in its WHERE,
 * where correlation with the main table works on every engine.
 */
export function withCollectionJoins(ctx: ResolveContext, where: RawBuilder<SqlBool>): RawBuilder<SqlBool> {
  if (ctx.joins.size === 0) return where
  const tables = [...ctx.joins.values()].map((j) => sql`left join ${from(j.target, j.alias)} on ${j.on ?? sql`1=1`}`)
  return sql<SqlBool>`exists (select 1 from (select 1 as one) as ${sql.id(`${ctx.nextAlias()}j`)} ${sql.join(tables, sql` `)} where ${where})`
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
