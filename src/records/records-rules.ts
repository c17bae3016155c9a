import type { RawBuilder, SqlBool } from 'kysely'
import { ApiError } from '../errors.ts'
import type { SqlDialect } from '../sql/dialect.ts'
import { compiledOf, type CompiledRule } from './compiled.ts'
import { compileFilter, compileParsed, TRUE, type FilterScope } from './filter/index.ts'
import type { Collection, Rule } from './model.ts'
import { actsAsSuperuser, type RequestInfo } from './record.ts'
import type { CollectionRegistry } from './registry.ts'

/** What an API rule means for one request: everyone, superusers only, or rows matching SQL. */
export type RuleAccess = { kind: 'allow' } | { kind: 'deny' } | { kind: 'where'; where: RawBuilder<SqlBool> }

export const ALLOW: RuleAccess = Object.freeze({ kind: 'allow' })

/**
 * PocketBase's rule semantics: superusers pass every rule; `null` lets nobody else in; `''` lets
 * everyone in; an expression lets in the rows it matches (compiled with `@request.*` of this request).
 * A rule of `collection` is taken already parsed from its compiled form; any other text (a rule
 * of another version of the collection, say) is parsed through the filter's parse cache.
 */
export function ruleAccess(
  rule: Rule,
  collection: Collection,
  request: RequestInfo,
  deps: { registry: CollectionRegistry; capabilities: SqlDialect },
): RuleAccess {
  if (actsAsSuperuser(request)) return { kind: 'allow' }
  if (rule === null) return { kind: 'deny' }
  if (rule.trim() === '') return { kind: 'allow' }
  const compiled = compiledOf(collection).ruleByText(rule)
  const scope: FilterScope = { collection, registry: deps.registry, capabilities: deps.capabilities, request, allowHidden: true }
  if (!compiled) return { kind: 'where', where: compileFilter(rule, scope) }
  const caller = readsOnlyCaller(compiled) ? callerKey(request) : undefined
  let perCaller = caller && callerRules.get(caller)
  if (caller && !perCaller) callerRules.set(caller, (perCaller = new WeakMap()))
  let access = perCaller?.get(compiled)
  if (!access) {
    const where = compiledRuleWhere(compiled, scope)
    // A rule that folds to TRUE for this caller (`@request.auth.id != ''` when signed in) lets everyone in.
    access = where === TRUE ? ALLOW : { kind: 'where', where }
    perCaller?.set(compiled, access)
  }
  return access
}

/**
 * Whether a rule's SQL depends on nothing of the request but its caller (`authOnly`: it reads
 * only `@request.auth.*` and no clock; a rule that failed to parse never does), so it may be
 * kept per caller, here and by the kept statements (statements.ts).
 */
export function readsOnlyCaller(rule: CompiledRule | undefined): boolean {
  return rule?.kind === 'expr' && rule.authOnly
}

/** The one key every guest's kept SQL is filed under. */
const GUEST = Object.freeze({})

/**
 * What SQL kept per caller is filed under: the frozen AuthInfo the token cache hands to every
 * request with that token, or one object for every guest. Undefined when nothing may be kept:
 * an AuthInfo that is not frozen could still change, and the server's own requests act with
 * every right.
 */
export function callerKey(request: RequestInfo): object | undefined {
  if (request.system) return undefined
  const auth = request.auth
  if (auth === null) return GUEST
  return Object.isFrozen(auth) && Object.isFrozen(auth.record) ? auth : undefined
}

/**
 * Rule SQL kept per caller (`callerKey`) for the rules that read only the caller. Keyed by the
 * compiled rule, which is new with every schema version, so a changed rule is never served from
 * here; a changed auth record comes as a new AuthInfo.
 */
const callerRules = new WeakMap<object, WeakMap<CompiledRule, RuleAccess>>()

/**
 * The SQL condition of a parsed rule expression for one request. A rule that did not parse when
 * the collection was compiled is parsed again here, so it fails with the same `invalid_filter`
 * as it always did; `allow` is TRUE and `deny` an error (callers decide those before asking).
 */
export function compiledRuleWhere(rule: CompiledRule, scope: FilterScope): RawBuilder<SqlBool> {
  if (rule.kind === 'deny') throw new Error('compiledRuleWhere: a null rule has no condition')
  if (rule.kind === 'allow') return compileParsed(undefined, scope)
  return rule.error === undefined ? compileParsed(rule.tree, scope) : compileFilter(rule.text, scope)
}

/** What only superusers may name in a client's `filter` or `sort` (PocketBase's list, same order). */
const superuserOnlyRuleFields = ['@collection.', '@request.'] as const

/**
 * The scope of a client's own `filter` and `sort`, after PocketBase's check that a non-superuser
 * names neither `@collection.` nor `@request.` in them (403). NB: the check is PocketBase's loose
 * substring test, so such text inside a string literal is refused too; without it, `@collection`
 * would let a guest read any collection whatever its rules.
 */
export function clientFilterScope(
  collection: Collection,
  q: { filter?: string; sort?: string },
  request: RequestInfo,
  deps: { registry: CollectionRegistry; capabilities: SqlDialect },
): FilterScope {
  const superuser = actsAsSuperuser(request)
  if (!superuser) {
    for (const param of [q.filter, q.sort]) {
      const field = param ? superuserOnlyRuleFields.find((f) => param.includes(f)) : undefined
      if (field) throw new ApiError('forbidden', `Only superusers can filter by ${field}`)
    }
  }
  return { collection, registry: deps.registry, capabilities: deps.capabilities, request, allowHidden: superuser }
}
