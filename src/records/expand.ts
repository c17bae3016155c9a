import { sql, type CompiledQuery, type Kysely, type RawBuilder, type SqlBool } from 'kysely'
import { findSingleColumnUniqueIndex } from './collections/index-definition.ts'
import { rowToRecord } from './fields/index.ts'
import { findField, isMulti, type Collection } from './model.ts'
import { actsAsSuperuser, type RecordJson, type RequestInfo } from './record.ts'
import { ruleAccess, type RuleAccess } from './records-rules.ts'
import { visibleRecord } from './records-visibility.ts'
import type { CollectionRegistry } from './registry.ts'
import { viewById } from './statements.ts'
import type { SqlDialect } from '../sql/dialect.ts'

const MAX_DEPTH = 6
/** Ids per query when loading relations (each chunk is also the row limit of its query). */
const ID_CHUNK = 1000
const viaPattern = /^(\w+)_via_(\w+)$/

type Tree = Map<string, Tree>

export interface ExpandDeps {
  registry: CollectionRegistry
  capabilities: SqlDialect
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  db: Kysely<any>
  /** Runs a read built on `db` on the reader's direct path (`SqlEngine.query`); unset inside a transaction. */
  query?: (compiled: CompiledQuery) => Promise<Record<string, unknown>[]>
}

/**
 * `author,comments_via_post.user` as a tree of relation names, PocketBase's way: spaces dropped,
 * dots trimmed, and levels past the 6th ignored (not an error). Names that are not relations are
 * skipped when expanding, so nothing here fails.
 */
export function parseExpand(param: string): Tree {
  const root: Tree = new Map()
  for (const raw of param.split(',')) {
    const path = raw.replaceAll(' ', '').replace(/^\.+|\.+$/g, '')
    if (!path) continue
    let cur = root
    for (const part of path.split('.').slice(0, MAX_DEPTH)) {
      if (!/^\w+$/.test(part)) break // cannot name a relation: the rest of the path expands nothing
      let next = cur.get(part)
      if (!next) cur.set(part, (next = new Map()))
      cur = next
    }
  }
  return root
}

/**
 * The records of `target` the caller may view among those `read` selects under the caller's view
 * rule, as visible records: on the reader's direct path when there is one, else on `db`.
 */
async function loadVisible(deps: ExpandDeps, target: Collection, request: RequestInfo, read: (access: RuleAccess) => CompiledQuery): Promise<RecordJson[]> {
  const access = ruleAccess(target.viewRule, target, request, deps)
  if (access.kind === 'deny') return []
  const compiled = read(access)
  const rows = deps.query ? await deps.query(compiled) : ((await deps.db.executeQuery(compiled)).rows as Record<string, unknown>[])
  return rows.map((row) => visibleRecord(target, rowToRecord(target, row), request))
}

/** Rows of `target` matching `where` (at most `ID_CHUNK`), under `access`. */
function matching(deps: ExpandDeps, target: Collection, where: RawBuilder<SqlBool>): (access: RuleAccess) => CompiledQuery {
  return (access) => {
    const q = deps.db.selectFrom(target.name).selectAll().where(where)
    return (access.kind === 'where' ? q.where(access.where) : q).limit(ID_CHUNK).compile()
  }
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
      if (field.hidden && !actsAsSuperuser(request)) continue
      const target = deps.registry.get(field.collectionId)
      if (!target) continue
      // PocketBase answers `expand: {}` on every record once a relation path resolves.
      for (const r of records) r.expand ??= {}
      const ids = [...new Set(records.flatMap((r) => (Array.isArray(r[name]) ? (r[name] as string[]) : r[name] ? [String(r[name])] : [])))]
      if (ids.length === 0) continue
      // In chunks: engines cap bound parameters per statement (a page of multi relations can hold more).
      const found: RecordJson[] = []
      // One id (a single relation of one record: a view's expand) reads like a GET of that record.
      if (ids.length === 1) {
        found.push(...(await loadVisible(deps, target, request, (access) => viewById(deps.db, target, access, ids[0]))))
      } else {
        for (let i = 0; i < ids.length; i += ID_CHUNK) {
          const chunk = ids.slice(i, i + ID_CHUNK)
          found.push(...(await loadVisible(deps, target, request, matching(deps, target, sql<SqlBool>`${sql.ref(`${target.name}.id`)} in (${sql.join(chunk)})`))))
        }
      }
      await expandRecords(deps, target, found, subtree, request)
      const byId = new Map(found.map((r) => [r.id, r]))
      for (const r of records) {
        const value = r[name]
        const expanded = isMulti(field)
          ? (Array.isArray(value) ? (value as string[]) : []).map((id) => byId.get(id)).filter((x): x is RecordJson => !!x)
          : byId.get(String(value ?? ''))
        if (expanded === undefined || (Array.isArray(expanded) && expanded.length === 0)) continue
        ;(r.expand as Record<string, unknown>)[name] = expanded
      }
    } else if (via) {
      const source = deps.registry.get(via[1]!)
      const rel = source && findField(source, via[2]!)
      if (!source || !rel || rel.type !== 'relation' || rel.collectionId !== collection.id) continue
      for (const r of records) r.expand ??= {}
      const ids = sql.join(records.map((r) => r.id))
      const column = sql.ref(`${source.name}.${rel.name}`)
      let where: RawBuilder<SqlBool>
      if (isMulti(rel)) {
        const e = deps.capabilities.arrayElements(column, '__x')
        where = sql<SqlBool>`exists (select 1 from ${e.from} where ${e.v} in (${ids}))`
      } else {
        where = sql<SqlBool>`${column} in (${ids})`
      }
      const found = await loadVisible(deps, source, request, matching(deps, source, where))
      await expandRecords(deps, source, found, subtree, request)
      // A back-relation through a field with a single-column unique index holds at most one
      // record per target: PocketBase expands it as one object, not an array.
      const single = findSingleColumnUniqueIndex(source.indexes, rel.name) !== undefined
      const byTarget = new Map<string, RecordJson[]>()
      for (const f of found) {
        const value = f[rel.name]
        for (const target of Array.isArray(value) ? (value as string[]) : [String(value ?? '')]) {
          let list = byTarget.get(target)
          if (!list) byTarget.set(target, (list = []))
          list.push(f)
        }
      }
      for (const r of records) {
        const matches = byTarget.get(r.id)
        if (matches?.length) (r.expand as Record<string, unknown>)[name] = single ? matches[0] : matches
      }
    }
    // PocketBase ignores names that are not relations; so does Plinth.
  }
}
