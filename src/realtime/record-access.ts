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
import { addCdnUrls, type CdnSettings } from '../files/cdn/record-urls.ts'
import { visibleRecord } from '../records/records-visibility.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { ruleInMemory } from '../records/rule-memory.ts'
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
 * still reach the real tables. The checks of one event are asked together, up to
 * `CHECKS_PER_QUERY` to a query, so a thousand owners cost ten queries, not a thousand.
 */
export interface AccessDeps {
  registry: CollectionRegistry
  /** Where checks and expands read (the reader: no replicas exist yet, so it is the primary). */
  reader: () => SqlEngine
  /** False: every rule through SQL (tests compare the two). */
  inMemory?: boolean
  /** With `cdn.baseUrl` set, events carry signed CDN URLs of their files (`@files`). */
  cdn?: CdnSettings
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

/** Conditions one query may hold at most (their bound values add up; SQLite allows 32766). */
export const CHECKS_PER_QUERY = 100

type Condition = (alias: string) => RawBuilder<SqlBool>

/** The event's row as a one-row CTE named `ALIAS`, typed by a never-true select of the real table. */
function rowCte(c: Collection, record: RecordJson): RawBuilder<unknown> {
  const fields = new Map<string, Field | undefined>([['id', undefined]])
  for (const f of c.fields) fields.set(f.name, f)
  const cols = [...fields.keys()]
  const values = cols.map((k) => {
    const f = fields.get(k)
    return f ? columnValue(f, record[k]) : record.id
  })
  const typed = sql`select ${sql.join(cols.map((k) => sql.ref(k)))} from ${sql.table(c.name)} where 1 = 0`
  const row = sql`select ${sql.join(values.map((v) => sql`${v}`))}`
  return sql`with ${sql.id(ALIAS)} as (${typed} union all ${row})`
}

/**
 * For each set of conditions, whether `record` (raw: hidden fields included) matches all of them.
 * An empty set matches without SQL; the others are asked together, `CHECKS_PER_QUERY` to a query,
 * each as one `case when ... then 1 else 0 end` column over the one-row CTE.
 */
async function rowMatchesEach(deps: AccessDeps, c: Collection, record: RecordJson, sets: Condition[][]): Promise<boolean[]> {
  const out = sets.map((conditions) => conditions.length === 0)
  const asked = sets.flatMap((conditions, i) => (conditions.length ? [i] : []))
  if (asked.length === 0) return out
  const engine = deps.reader()
  const cte = rowCte(c, record)
  for (let at = 0; at < asked.length; at += CHECKS_PER_QUERY) {
    const chunk = asked.slice(at, at + CHECKS_PER_QUERY)
    const columns = chunk.map((i, k) => {
      const where = sql.join(sets[i]!.map((fn) => sql`(${fn(ALIAS)})`), sql` and `)
      return sql`case when ${where} then 1 else 0 end as ${sql.id(`m${k}`)}`
    })
    const row = (await sql<Record<string, unknown>>`${cte} select ${sql.join(columns)} from ${sql.id(ALIAS)}`.execute(engine.db)).rows[0]
    chunk.forEach((i, k) => (out[i] = Number(row?.[`m${k}`]) === 1))
  }
  return out
}

async function rowMatches(deps: AccessDeps, c: Collection, record: RecordJson, conditions: Condition[]): Promise<boolean> {
  return (await rowMatchesEach(deps, c, record, [conditions]))[0]!
}

/**
 * The rule as a condition for `request` on `record`, or a decision without SQL: superusers, null
 * and blank rules, and rules simple enough to decide in memory (`rule-memory.ts`).
 */
function ruleCondition(deps: AccessDeps, capabilities: SqlDialect, c: Collection, rule: Rule, request: RequestInfo, record: RecordJson): boolean | Condition {
  if (actsAsSuperuser(request)) return true
  if (rule === null) return false
  if (rule.trim() === '') return true
  if (deps.inMemory !== false) {
    const decided = ruleInMemory(compiledOf(c).ruleByText(rule), c, record, request)
    if (decided !== undefined) return decided
  }
  return (alias) => compileFilter(rule, { collection: c, alias, registry: deps.registry, capabilities, request, allowHidden: true })
}

/** One subscription's question about an event: may this request see the record through this rule? */
export interface Check {
  rule: Rule
  request: RequestInfo
  sub: Subscription
}

/**
 * The conditions a check needs (none: it passes without SQL), or false when it fails without SQL:
 * the rule (`listRule` for `COLLECTION/*`, `viewRule` for `COLLECTION/ID`) and the subscription's
 * `filter`. A filter that does not compile (a typo, `@collection` from a non-superuser) fails, as
 * its GET would.
 */
function plan(deps: AccessDeps, capabilities: SqlDialect, c: Collection, record: RecordJson, check: Check): Condition[] | false {
  const access = ruleCondition(deps, capabilities, c, check.rule, check.request, record)
  if (access === false) return false
  const conditions = access === true ? [] : [access]
  const filter = check.sub.query.filter
  if (filter) {
    let scope
    try {
      scope = clientFilterScope(c, { filter }, check.request, { registry: deps.registry, capabilities })
      compileFilter(filter, scope)
    } catch {
      return false
    }
    conditions.push((alias) => compileFilter(filter, { ...scope, alias }))
  }
  return conditions
}

/** Which of `checks` let their client see `record`: the SQL ones asked together (`rowMatchesEach`). */
export async function visibleTo(deps: AccessDeps, c: Collection, record: RecordJson, checks: readonly Check[]): Promise<boolean[]> {
  const capabilities = deps.reader().capabilities
  const plans = checks.map((check) => plan(deps, capabilities, c, record, check))
  const asked = plans.map((p) => (p === false ? [] : p))
  const matched = await rowMatchesEach(deps, c, record, asked)
  return plans.map((p, i) => p !== false && matched[i]!)
}

/**
 * The record as a client that may see it receives it: hidden fields, email visibility (the
 * `manageRule` checked on the event's row the same way), `expand` and `fields`, as a GET would.
 */
export async function presentTo(deps: AccessDeps, c: Collection, record: RecordJson, request: RequestInfo, sub: Subscription): Promise<RecordJson> {
  const engine = deps.reader()
  const capabilities = engine.capabilities
  let manager = false
  const compiled = compiledOf(c)
  if (compiled.isAuth && request.auth && !actsAsSuperuser(request) && compiled.rules.manage.kind === 'expr') {
    const manage = ruleCondition(deps, capabilities, c, compiled.rules.manage.text, request, record)
    manager = manage === true || (manage !== false && (await rowMatches(deps, c, record, [manage])))
  }
  const out = visibleRecord(c, record, request, manager)
  if (sub.query.expand) {
    await expandRecords({ registry: deps.registry, capabilities, db: engine.db, query: (compiled) => engine.query(compiled) }, c, [out], parseExpand(sub.query.expand), request)
  }
  if (deps.cdn) addCdnUrls(deps.cdn, deps.registry, c, [out])
  return pickFields(out, sub.query.fields ? parseFields(sub.query.fields) : undefined)
}
