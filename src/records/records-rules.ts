import type { RawBuilder, SqlBool } from 'kysely'
import { ApiError } from '../errors.ts'
import type { SqlDialect } from '../sql/dialect.ts'
import { compiledOf, type CompiledRule } from './compiled.ts'
import { compileFilter, compileParsed, TRUE, type FilterScope } from './filter/index.ts'
import type { Collection, Rule } from './model.ts'
import { actsAsSuperuser, type AuthInfo, type RequestInfo } from './record.ts'
import type { CollectionRegistry } from './registry.ts'

/** What an API rule means for one request: everyone, superusers only, or rows matching SQL. */
export type RuleAccess = { kind: 'allow' } | { kind: 'deny' } | { kind: 'where'; where: RawBuilder<SqlBool> }

const ALLOW: RuleAccess = Object.freeze({ kind: 'allow' })

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
  const perCaller = keptFor(compiled, request.auth)
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
 * Rule SQL kept per caller: for a rule that reads only `@request.auth.*`, the SQL is the same
 * for every request of one caller, so it is compiled once per auth record (the frozen AuthInfo
 * that the token cache hands to each request with that token) and once for guests. Keyed by the
 * compiled rule, which is new with every schema version, so a changed rule is never served
 * from here; a changed auth record comes as a new AuthInfo.
 * NB: an AuthInfo that is not frozen could still change, so it gets nothing kept.
 */
const guestRules = new WeakMap<CompiledRule, RuleAccess>()
const callerRules = new WeakMap<AuthInfo, WeakMap<CompiledRule, RuleAccess>>()

function keptFor(rule: CompiledRule, auth: AuthInfo | null): WeakMap<CompiledRule, RuleAccess> | undefined {
  if (rule.kind !== 'expr' || !rule.authOnly || rule.error !== undefined) return undefined
  if (auth === null) return guestRules
  if (!Object.isFrozen(auth) || !Object.isFrozen(auth.record)) return undefined
  let kept = callerRules.get(auth)
  if (!kept) callerRules.set(auth, (kept = new WeakMap()))
  return kept
}

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
