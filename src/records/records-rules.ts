import type { RawBuilder, SqlBool } from 'kysely'
import type { SqlCapabilities } from '../sql/sql.ts'
import { compileFilter } from './filter/index.ts'
import type { Collection, Rule } from './model.ts'
import type { RequestInfo } from './record.ts'
import type { CollectionRegistry } from './registry.ts'

/** What an API rule means for one request: everyone, superusers only, or rows matching SQL. */
export type RuleAccess = { kind: 'allow' } | { kind: 'deny' } | { kind: 'where'; where: RawBuilder<SqlBool> }

/**
 * PocketBase's rule semantics: superusers pass every rule; `null` lets nobody else in; `''` lets
 * everyone in; an expression lets in the rows it matches (compiled with `@request.*` of this request).
 */
export function ruleAccess(
  rule: Rule,
  collection: Collection,
  request: RequestInfo,
  deps: { registry: CollectionRegistry; capabilities: SqlCapabilities },
): RuleAccess {
  if (request.auth?.isSuperuser) return { kind: 'allow' }
  if (rule === null) return { kind: 'deny' }
  if (rule.trim() === '') return { kind: 'allow' }
  return { kind: 'where', where: compileFilter(rule, { collection, registry: deps.registry, capabilities: deps.capabilities, request, allowHidden: true }) }
}
