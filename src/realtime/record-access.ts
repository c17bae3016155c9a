import { sql, type RawBuilder, type SqlBool } from 'kysely'
import type { SqlDialect } from '../sql/dialect.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { storageKind } from '../records/columns.ts'
import { compiledOf } from '../records/compiled.ts'
import { expandRecords, parseExpand } from '../records/expand.ts'
import { compileFilter } from '../records/filter/index.ts'
import type { Collection, Field, Rule } from '../records/model.ts'
import { parseFields, pickFields } from '../records/pick-fields.ts'
import { actsAsSuperuser, type RecordJson, type RequestInfo } from '../records/record.ts'
import { clientFilterScope } from '../records/records-rules.ts'
import { visibleRecord } from '../records/records-visibility.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { Subscription } from './subscription.ts'

/**
 * Whether a realtime client may receive a record event, and what it receives: the same rules,
 * client filter, hidden fields, email visibility (`manageRule`), `expand` and `fields` as a GET of
 * that record would apply, evaluated on the record as the event carries it.
 *
 * The rule is checked against the event's values, not the table: a one-row CTE of the record's
 * columns (typed by a never-true select of the real table, like the create rule's dummy row in
 * `records-checks.ts`), so a deleted record is judged as it was before the delete, and a record
 * changed again since is judged as it was at this commit. `@collection.*` and relation paths
 * still reach the real tables.
 */
export interface AccessDeps {
  registry: CollectionRegistry
  /** Where checks and expands read (the reader: no replicas exist yet, so it is the primary). */
  reader: () => SqlEngine
}

const ALIAS = '__rt_row__'

/** The stored form of one field's API value, as `prepareRecord` writes it (see `fields/prepare.ts`). */
function columnValue(f: Field, v: unknown): unknown {
  switch (storageKind(f)) {
    case 'bool':
      // NB: 1/0 binds on every driver (better-sqlite3 rejects JS booleans).
      return v === true ? 1 : 0
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? v : 0
    case 'json-array':
      return JSON.stringify(Array.isArray(v) ? v : [])
    case 'json':
      return v === null || v === undefined ? null : JSON.stringify(v)
    case 'geo-point':
      return JSON.stringify(v ?? { lon: 0, lat: 0 })
    default:
      return v === null || v === undefined ? '' : String(v)
  }
}

/**
 * Whether `record` (raw: hidden fields included) matches every condition in `conditions`,
 * compiled onto the one-row CTE. No condition: true without SQL.
 */
async function rowMatches(deps: AccessDeps, c: Collection, record: RecordJson, conditions: ((alias: string) => RawBuilder<SqlBool>)[]): Promise<boolean> {
  if (conditions.length === 0) return true
  const engine = deps.reader()
  const fields = new Map<string, Field | undefined>([['id', undefined]])
  for (const f of c.fields) fields.set(f.name, f)
  const cols = [...fields.keys()]
  const values = cols.map((k) => {
    const f = fields.get(k)
    return f ? columnValue(f, record[k]) : record.id
  })
  const where = sql.join(conditions.map((fn) => sql`(${fn(ALIAS)})`), sql` and `)
  const typed = sql`select ${sql.join(cols.map((k) => sql.ref(k)))} from ${sql.table(c.name)} where 1 = 0`
  const row = sql`select ${sql.join(values.map((v) => sql`${v}`))}`
  const q = sql<{ ok: number }>`with ${sql.id(ALIAS)} as (${typed} union all ${row}) select 1 as ok from ${sql.id(ALIAS)} where ${where} limit 1`
  return (await q.execute(engine.db)).rows.length > 0
}

/** The rule as a condition for `request`, or a decision without SQL. */
function ruleCondition(deps: AccessDeps, capabilities: SqlDialect, c: Collection, rule: Rule, request: RequestInfo): boolean | ((alias: string) => RawBuilder<SqlBool>) {
  if (actsAsSuperuser(request)) return true
  if (rule === null) return false
  if (rule.trim() === '') return true
  return (alias) => compileFilter(rule, { collection: c, alias, registry: deps.registry, capabilities, request, allowHidden: true })
}

/**
 * The record as the client should receive it for one subscription, or undefined when the rule
 * (`listRule` for `COLLECTION/*`, `viewRule` for `COLLECTION/ID`) or the subscription's `filter`
 * refuses it. A filter that does not compile (a typo, `@collection` from a non-superuser) sends
 * nothing, as its GET would fail.
 */
export async function recordFor(deps: AccessDeps, c: Collection, record: RecordJson, rule: Rule, request: RequestInfo, sub: Subscription): Promise<RecordJson | undefined> {
  const engine = deps.reader()
  const capabilities = engine.capabilities
  const access = ruleCondition(deps, capabilities, c, rule, request)
  if (access === false) return undefined
  const conditions = access === true ? [] : [access]
  const filter = sub.query.filter
  if (filter) {
    let scope
    try {
      scope = clientFilterScope(c, { filter }, request, { registry: deps.registry, capabilities })
      compileFilter(filter, scope)
    } catch {
      return undefined
    }
    conditions.push((alias) => compileFilter(filter, { ...scope, alias }))
  }
  if (!(await rowMatches(deps, c, record, conditions))) return undefined
  let manager = false
  const compiled = compiledOf(c)
  if (compiled.isAuth && request.auth && !actsAsSuperuser(request) && compiled.rules.manage.kind === 'expr') {
    const manage = ruleCondition(deps, capabilities, c, compiled.rules.manage.text, request)
    manager = manage === true || (manage !== false && (await rowMatches(deps, c, record, [manage])))
  }
  const out = visibleRecord(c, record, request, manager)
  if (sub.query.expand) {
    await expandRecords({ registry: deps.registry, capabilities, db: engine.db, query: (compiled) => engine.query(compiled) }, c, [out], parseExpand(sub.query.expand), request)
  }
  return pickFields(out, sub.query.fields ? parseFields(sub.query.fields) : undefined)
}
