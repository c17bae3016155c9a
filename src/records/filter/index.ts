import { sql, type RawBuilder, type SqlBool } from 'kysely'
import { Comparer, FALSE, TRUE } from './compare.ts'
import { ROWID_COLUMN } from '../columns.ts'
import { resolveCall } from './functions.ts'
import { filterError } from './lexer.ts'
import { parseFilter, type Expr } from './parser.ts'
import { guardGuestAuth } from './guest.ts'
import { resolveIdent, withCollectionJoins, type ResolveContext } from './resolve.ts'
import type { Resolved } from './operand.ts'
import type { FilterScope } from './scope.ts'
import type { Operand } from './parser.ts'

export type { FilterScope, Expr }
export { TRUE }
export { parseFilter }

/** How many parsed filters `parseCached` keeps (rules and recent client filters). */
export const PARSE_CACHE_SIZE = 500

const parsed = new Map<string, Expr | undefined>()

function freeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) freeze(x)
  }
  return v
}

/**
 * `parseFilter` with a bounded cache keyed by the text (least recently used out first), for the
 * rule texts that are compiled on every request through paths that have no compiled collection
 * at hand (`@collection` rules, the email-visibility manageRule, ad hoc rule checks). Trees are
 * frozen, since every request shares them. Errors are not cached: a bad filter is re-parsed and
 * fails again with a fresh error.
 */
export function parseCached(expr: string): Expr | undefined {
  if (parsed.has(expr)) {
    const tree = parsed.get(expr)
    parsed.delete(expr)
    parsed.set(expr, tree)
    return tree
  }
  const tree = freeze(parseFilter(expr))
  parsed.set(expr, tree)
  if (parsed.size > PARSE_CACHE_SIZE) parsed.delete(parsed.keys().next().value!)
  return tree
}

/**
 * Whether a parsed filter reads nothing from the request but `@request.auth.*`, and no clock
 * (`@now`, `@todayStart`, ...): then its SQL is the same for every request by the same caller,
 * and a compiled rule can be kept per caller (records-rules.ts).
 */
export function readsOnlyAuth(tree: Expr | undefined): boolean {
  if (!tree) return true
  if (tree.kind !== 'compare') return tree.items.every(readsOnlyAuth)
  return operandReadsOnlyAuth(tree.left) && operandReadsOnlyAuth(tree.right)
}

function operandReadsOnlyAuth(o: Operand): boolean {
  if (o.kind === 'call') return o.args.every(operandReadsOnlyAuth)
  if (o.kind !== 'ident' || !o.name.startsWith('@')) return true
  return o.name.startsWith('@request.auth.') || o.name.startsWith('@collection.')
}

/**
 * The most table aliases (relation hops, back-relations, `@collection` and multi-value scans, each
 * a subquery per row) one filter or sort may create. PocketBase bounds joins per path (6 hops) and
 * shares a join between comparisons on one path; a subquery per comparison shares nothing, so the
 * whole filter gets a budget too.
 */
export const MAX_FILTER_ALIASES = 100

/** The longest sort field (PocketBase's MaxSortFieldLength) and the most sort fields. */
export const MAX_SORT_FIELD_LENGTH = 255
export const MAX_SORT_FIELDS = 8

function context(scope: FilterScope): ResolveContext {
  let n = 0
  const nextAlias = () => {
    if (++n > MAX_FILTER_ALIASES) throw filterError(`more than ${MAX_FILTER_ALIASES} relation lookups`)
    return `__f${n}`
  }
  return { scope, dialect: scope.capabilities, nextAlias, joins: new Map() }
}

function operand(ctx: ResolveContext, o: Operand): Resolved {
  switch (o.kind) {
    case 'ident':
      return resolveIdent(ctx, o.name)
    case 'call':
      return resolveCall(ctx, o.name, o.args, (arg) => operand(ctx, arg))
    case 'null':
      return { t: 'const', value: null }
    default:
      return { t: 'const', value: o.value }
  }
}

function compileExpr(ctx: ResolveContext, comparer: Comparer, e: Expr): RawBuilder<SqlBool> {
  if (e.kind === 'compare') return comparer.compare(e.op, operand(ctx, e.left), operand(ctx, e.right))
  // Constant parts fold away (sound in SQL's three-valued logic: x AND TRUE is x, x OR FALSE is x),
  // so a rule such as `@request.auth.id != ''` leaves no WHERE at all for a signed-in caller,
  // and SQLite can count a whole table without reading it.
  // Every item is compiled even after a decisive one: a bad field name is an error either way.
  const [unit, zero] = e.kind === 'and' ? [TRUE, FALSE] : [FALSE, TRUE]
  const compiled = e.items.map((item) => compileExpr(ctx, comparer, item))
  if (compiled.includes(zero)) return zero
  const parts = compiled.filter((p) => p !== unit)
  if (parts.length <= 1) return parts[0] ?? unit
  return sql<SqlBool>`(${sql.join(parts, sql.raw(e.kind === 'and' ? ' and ' : ' or '))})`
}

/**
 * Compiles a PocketBase filter expression to one self-contained, parameterised SQL boolean that
 * references only the main table (relations become subqueries). Throws ApiError('invalid_filter').
 * An empty expression compiles to TRUE. NB: every value, including `@request.*` data, is a bound
 * parameter; identifiers are quoted by Kysely after they were checked against the schema.
 */
export function compileFilter(expr: string, scope: FilterScope): RawBuilder<SqlBool> {
  return compileParsed(parseCached(expr), scope)
}

/**
 * `compileFilter` for a filter parsed earlier (a compiled collection's rule tree, see
 * `records/compiled.ts`); undefined (an empty filter) compiles to TRUE.
 */
export function compileParsed(tree: Expr | undefined, scope: FilterScope): RawBuilder<SqlBool> {
  if (!tree) return TRUE
  const ctx = context(scope)
  return withCollectionJoins(ctx, compileExpr(ctx, new Comparer(ctx.dialect, scope.capabilities), guardGuestAuth(tree, scope)))
}

/** Compiles a `sort` parameter (`-created,title,@random,@rowid`) to ORDER BY items. Throws ApiError('invalid_filter'). */
export function compileSort(sortParam: string, scope: FilterScope): RawBuilder<unknown>[] {
  const ctx = context(scope)
  const items: RawBuilder<unknown>[] = []
  const terms = sortParam.split(',').map((t) => t.trim()).filter(Boolean)
  if (terms.length > MAX_SORT_FIELDS) throw filterError(`at most ${MAX_SORT_FIELDS} sort fields`)
  for (const term of terms) {
    if (term.length > MAX_SORT_FIELD_LENGTH) throw filterError(`sort field longer than ${MAX_SORT_FIELD_LENGTH} characters`)
    const desc = term.startsWith('-')
    const name = term.replace(/^[-+]/, '')
    const dir = sql.raw(desc ? 'desc' : 'asc')
    if (name === '@random') {
      items.push(ctx.dialect.random())
      continue
    }
    if (name === '@rowid') {
      // Insertion order: SQLite's rowid, elsewhere the identity column of the same name (columns.ts).
      if (scope.collection.type === 'view') throw filterError('@rowid is not available on view collections')
      items.push(sql`${sql.ref(`${scope.alias ?? scope.collection.name}.${ROWID_COLUMN}`)} ${dir}`)
      continue
    }
    if (!/^[\w.@:]+$/.test(name)) throw filterError(`invalid sort field "${name}"`)
    const resolved = resolveIdent(ctx, name)
    if (resolved.t === 'const') throw filterError(`cannot sort by "${name}"`)
    if (resolved.t === 'set') throw filterError(`cannot sort by the multi-valued "${name}"`)
    items.push(sql`${resolved.sql} ${dir}`)
  }
  return items
}
