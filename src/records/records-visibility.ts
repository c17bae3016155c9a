import { sql, type Kysely } from 'kysely'
import type { SqlDialect } from '../sql/dialect.ts'
import { compiledOf } from './compiled.ts'
import type { Collection } from './model.ts'
import { compiledRuleWhere } from './records-rules.ts'
import { actsAsSuperuser, type RecordJson, type RequestInfo } from './record.ts'
import type { CollectionRegistry } from './registry.ts'

/**
 * What a caller may see of a record: hidden fields only for superusers; `password` and
 * `tokenKey` never; on auth collections `email` only when `emailVisibility` is on, or for the
 * record itself, a superuser or a manager (`manageRule`).
 */
export function visibleRecord(collection: Collection, record: RecordJson, request: RequestInfo, isManager = false): RecordJson {
  const superuser = actsAsSuperuser(request)
  const own = request.auth?.collection.id === collection.id && request.auth.record.id === record.id
  return stripRecord(collection, record, { showHidden: superuser, showEmail: superuser || isManager || own || record.emailVisibility === true })
}

/**
 * The one place that drops what a response must not carry: `password` and `tokenKey` always,
 * hidden fields unless `showHidden`, an auth record's `email` unless `showEmail`.
 */
export function stripRecord(collection: Collection, record: RecordJson, show: { showHidden: boolean; showEmail: boolean }): RecordJson {
  const out: Record<string, unknown> = {}
  const { hidden, isAuth: auth } = compiledOf(collection)
  // NB: `for...in` over a plain record (no inherited enumerable keys); no entry arrays per field.
  for (const key in record) {
    if (key === 'password' || key === 'tokenKey') continue
    if (auth && key === 'email' ? !show.showEmail : !show.showHidden && hidden.has(key)) continue
    out[key] = record[key]
  }
  return out as RecordJson
}

/**
 * Which of `ids` (records of an auth collection) the caller manages through its manageRule, so
 * their emails are shown (PocketBase: `IgnoreEmailVisibility` for managed records). A null or
 * empty manageRule manages nothing; superusers see every email anyway.
 */
export async function managedIds(
  db: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  collection: Collection,
  ids: string[],
  request: RequestInfo,
  deps: { registry: CollectionRegistry; capabilities: SqlDialect },
): Promise<Set<string>> {
  const compiled = compiledOf(collection)
  if (!compiled.isAuth || !request.auth || request.auth.isSuperuser || ids.length === 0) return new Set()
  const rule = compiled.rules.manage
  if (rule.kind !== 'expr') return new Set()
  const where = compiledRuleWhere(rule, { collection, registry: deps.registry, capabilities: deps.capabilities, request, allowHidden: true })
  const rows = await db.selectFrom(collection.name).select(sql.ref(`${collection.name}.id`).as('id')).where(sql.ref(`${collection.name}.id`), 'in', ids).where(where).execute()
  return new Set(rows.map((r: { id: unknown }) => String(r.id)))
}
