import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely'
import { ApiError } from '../errors.ts'
import { rowToRecord } from './fields/index.ts'
import { filterDialect } from './filter/dialect.ts'
import { findField, isMulti, type Collection } from './model.ts'
import type { RecordJson, RequestInfo } from './record.ts'
import { ruleAccess } from './records-rules.ts'
import { visibleRecord } from './records-visibility.ts'
import type { CollectionRegistry } from './registry.ts'
import type { SqlCapabilities } from '../sql/sql.ts'

const MAX_DEPTH = 6
const viaPattern = /^(\w+)_via_(\w+)$/

type Tree = Map<string, Tree>

export interface ExpandDeps {
  registry: CollectionRegistry
  capabilities: SqlCapabilities
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>
}

/** `author,comments_via_post.user` as a tree of relation names. */
export function parseExpand(param: string): Tree {
  const root: Tree = new Map()
  for (const path of param.split(',').map((p) => p.trim()).filter(Boolean)) {
    const parts = path.split('.')
    if (parts.length > MAX_DEPTH) throw new ApiError('bad_request', `Expand paths are limited to ${MAX_DEPTH} levels.`)
    let cur = root
    for (const part of parts) {
      if (!/^\w+$/.test(part)) throw new ApiError('bad_request', `Invalid expand path "${path}".`)
      let next = cur.get(part)
      if (!next) cur.set(part, (next = new Map()))
      cur = next
    }
  }
  return root
}

/** Loads the rows of `target` matching `where` that the caller may view, as visible records. */
async function loadVisible(deps: ExpandDeps, target: Collection, where: RawBuilder<SqlBool>, request: RequestInfo): Promise<RecordJson[]> {
  const access = ruleAccess(target.viewRule, target, request, deps)
  if (access.kind === 'deny') return []
  let q = deps.db.selectFrom(target.name).selectAll().where(where)
  if (access.kind === 'where') q = q.where(access.where)
  const rows = await q.limit(1000).execute()
  return rows.map((row) => visibleRecord(target, rowToRecord(target, row), request))
}

/**
 * Adds `expand` to each record, PocketBase's way: single relations as one record, multi relations
 * and back-relations as arrays; each expanded record subject to its collection's viewRule.
 * One query per relation and level, not per record.
 */
export async function expandRecords(deps: ExpandDeps, collection: Collection, records: RecordJson[], tree: Tree, request: RequestInfo): Promise<void> {
  if (records.length === 0 || tree.size === 0) return
  for (const [name, subtree] of tree) {
    const field = findField(collection, name)
    const via = field ? undefined : viaPattern.exec(name)
    if (field && field.type === 'relation') {
      if (field.hidden && !request.auth?.isSuperuser) continue
      const target = deps.registry.get(field.collectionId)
      if (!target) continue
      const ids = [...new Set(records.flatMap((r) => (Array.isArray(r[name]) ? (r[name] as string[]) : r[name] ? [String(r[name])] : [])))]
      if (ids.length === 0) continue
      const found = await loadVisible(deps, target, sql<SqlBool>`${sql.ref(`${target.name}.id`)} in (${sql.join(ids)})`, request)
      await expandRecords(deps, target, found, subtree, request)
      const byId = new Map(found.map((r) => [r.id, r]))
      for (const r of records) {
        const value = r[name]
        const expanded = isMulti(field)
          ? (Array.isArray(value) ? (value as string[]) : []).map((id) => byId.get(id)).filter((x): x is RecordJson => !!x)
          : byId.get(String(value ?? ''))
        if (expanded === undefined || (Array.isArray(expanded) && expanded.length === 0)) continue
        ;((r.expand ??= {}) as Record<string, unknown>)[name] = expanded
      }
    } else if (via) {
      const source = deps.registry.get(via[1]!)
      const rel = source && findField(source, via[2]!)
      if (!source || !rel || rel.type !== 'relation' || rel.collectionId !== collection.id) continue
      const ids = sql.join(records.map((r) => r.id))
      const column = sql.ref(`${source.name}.${rel.name}`)
      let where: RawBuilder<SqlBool>
      if (isMulti(rel)) {
        const e = filterDialect(deps.capabilities).arrayElements(column, '__x')
        where = sql<SqlBool>`exists (select 1 from ${e.from} where ${e.v} in (${ids}))`
      } else {
        where = sql<SqlBool>`${column} in (${ids})`
      }
      const found = await loadVisible(deps, source, where, request)
      await expandRecords(deps, source, found, subtree, request)
      for (const r of records) {
        const matches = found.filter((f) => (Array.isArray(f[rel.name]) ? (f[rel.name] as string[]).includes(r.id) : f[rel.name] === r.id))
        if (matches.length) ((r.expand ??= {}) as Record<string, unknown>)[name] = matches
      }
    }
    // PocketBase ignores names that are not relations; so does Plinth.
  }
}
