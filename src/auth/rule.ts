import { sql } from 'kysely'
import { compileFilter } from '../records/filter/index.ts'
import type { AuthCollection } from '../records/model.ts'
import type { RequestInfo } from '../records/record.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { SqlEngine } from '../sql/sql.ts'

/**
 * Whether `recordId` may authenticate under the collection's `authRule`, checked after the
 * credentials (PocketBase's order):
 * - `null`: only when the request itself carries a superuser token ("superusers only" = auth off);
 * - `''`: anyone whose credentials are right;
 * - an expression: it must match the record, with `@request.*` from this request.
 */
export async function passesAuthRule(
  deps: { registry: CollectionRegistry; engine: Pick<SqlEngine, 'db' | 'capabilities'> },
  collection: AuthCollection,
  recordId: string,
  request: RequestInfo,
): Promise<boolean> {
  const rule = collection.authRule
  if (rule === null) return request.auth?.isSuperuser === true
  return passesRule(deps, collection, rule, recordId, request)
}

/** Whether the record matches `rule` ('' = always) with `@request.*` from this request (the authRule's and `mfa.rule`'s check). */
export async function passesRule(
  deps: { registry: CollectionRegistry; engine: Pick<SqlEngine, 'db' | 'capabilities'> },
  collection: AuthCollection,
  rule: string,
  recordId: string,
  request: RequestInfo,
): Promise<boolean> {
  if (rule.trim() === '') return true
  const condition = compileFilter(rule, {
    collection,
    registry: deps.registry,
    capabilities: deps.engine.capabilities,
    request,
    allowHidden: true,
  })
  const row = await deps.engine.db
    .selectFrom(collection.name)
    .select(sql<number>`1`.as('ok'))
    .where('id', '=', recordId)
    .where(condition)
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}
