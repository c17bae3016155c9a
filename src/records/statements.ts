import { sql, type CompiledQuery, type Kysely } from 'kysely'
import { compiledOf } from './compiled.ts'
import type { Collection } from './model.ts'
import type { RequestInfo } from './record.ts'
import { callerKey, readsOnlyCaller, type RuleAccess } from './records-rules.ts'
import type { CollectionRegistry } from './registry.ts'

/**
 * Read statements compiled once and kept, so the hottest requests (a view by id, a list page)
 * skip the filter compiler and the query builder: only their parameters change between calls.
 *
 * What a statement is kept by decides that it is never reused where it would be wrong:
 * - everything is keyed under the compiled collection (one per schema version) or under a rule
 *   access that is itself kept per caller and schema version (records-rules.ts), so a changed
 *   rule or field never meets an old statement;
 * - a list's client `filter` and `sort` compile differently per caller (relations reach only what
 *   the target's rules let the caller list; hidden fields only for superusers), so lists are
 *   kept per caller (the frozen AuthInfo the token cache hands out) and per filter and sort text,
 *   and only while every rule in the schema reads nothing of the request but `@request.auth.*`;
 *   at most `LISTS_KEPT` of them in all;
 * - a filter or sort naming anything with `@` (macros such as `@now`, superusers' `@request.*`)
 *   is never kept.
 */

/** Values that stand for parameters while a statement is compiled once; filled in per call. */
export const SLOT = Object.freeze({ id: Object.freeze({ slot: 'id' }), limit: Object.freeze({ slot: 'limit' }), offset: Object.freeze({ slot: 'offset' }) })

/** A compiled statement with up to two parameters left to fill in per call. */
export interface Slotted {
  with(a: unknown, b: unknown): CompiledQuery
}

function slotted(compiled: CompiledQuery, a: object, b?: object): Slotted {
  const at = (slot: object) => {
    const i = compiled.parameters.indexOf(slot)
    if (i < 0 || compiled.parameters.lastIndexOf(slot) !== i) throw new Error('statements: a slot must be bound exactly once')
    return i
  }
  const ia = at(a)
  const ib = b ? at(b) : -1
  return {
    with(va, vb) {
      const parameters = compiled.parameters.slice()
      parameters[ia] = va
      if (ib >= 0) parameters[ib] = vb
      return { ...compiled, parameters }
    },
  }
}

const views = new WeakMap<object, Slotted>()

/**
 * The view-by-id statement of `c` under `access`, compiled once (with `SLOT.id`) and kept under
 * the compiled collection for `allow`, else under the access itself: an access not kept per
 * caller is new on every request, so its statement is simply not found again.
 */
export function viewStatement(c: Collection, access: RuleAccess, build: (id: unknown) => { compile(): CompiledQuery }): Slotted {
  const key: object = access.kind === 'where' ? access : compiledOf(c)
  let kept = views.get(key)
  if (!kept) views.set(key, (kept = slotted(build(SLOT.id).compile(), SLOT.id)))
  return kept
}

/**
 * The read of one record of `c` by id under `access` (a GET of it, or an expand of one relation
 * id), as its kept statement with `id` filled in.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function viewById(db: Kysely<any>, c: Collection, access: RuleAccess, id: unknown): CompiledQuery {
  const build = (idValue: unknown) => {
    const query = db.selectFrom(c.name).selectAll().where(sql.ref(`${c.name}.id`), '=', idValue)
    return access.kind === 'where' ? query.where(access.where) : query
  }
  return viewStatement(c, access, build).with(id, undefined)
}

export interface ListStatements {
  /** The page's rows: `with(limit, offset)`. */
  rows: Slotted
  count: CompiledQuery
}

/**
 * List statements kept, least recently used out first, across every caller and collection: a
 * bound on memory whatever the number of callers (every signed-up user is one) and filter texts.
 */
const LISTS_KEPT = 2000
const lists = new Map<string, ListStatements>()
/** How many list statements are kept now (for tests of the bound). */
export function keptListCount(): number {
  return lists.size
}

/** A number per object a list statement is kept under (a compiled collection, a caller); never reused. */
const numbers = new WeakMap<object, number>()
let lastNumber = 0
const numberOf = (o: object): number => {
  let n = numbers.get(o)
  if (n === undefined) numbers.set(o, (n = ++lastNumber))
  return n
}
const schemaAuthOnly = new WeakMap<readonly Collection[], boolean>()

/** Whether every rule of every collection reads only `@request.auth.*` (see above); once per schema. */
function rulesReadOnlyAuth(registry: CollectionRegistry): boolean {
  const all = registry.all()
  let yes = schemaAuthOnly.get(all)
  if (yes === undefined) {
    yes = all.every((c) => Object.values(compiledOf(c).rules).every((r) => r.kind !== 'expr' || readsOnlyCaller(r)))
    schemaAuthOnly.set(all, yes)
  }
  return yes
}

/**
 * The statements of one list request, kept (see above) or built now by `build` (with
 * `SLOT.limit`, `SLOT.offset`) and kept; undefined when this request's must not be kept.
 */
export function listStatements(
  c: Collection,
  access: RuleAccess,
  request: RequestInfo,
  q: { filter?: string; sort?: string },
  registry: CollectionRegistry,
  build: () => { rows: { compile(): CompiledQuery }; count: { compile(): CompiledQuery } },
): ListStatements | undefined {
  const filter = q.filter ?? ''
  const sort = q.sort ?? ''
  const caller = callerKey(request)
  if (!caller || filter.includes('@') || sort.includes('@')) return undefined
  const compiled = compiledOf(c)
  // The access is the list rule's, compiled for this caller: the same for every request of it
  // only when the rule reads just the caller.
  if (access.kind === 'where' && !readsOnlyCaller(c.listRule === null ? undefined : compiled.ruleByText(c.listRule))) return undefined
  if (!rulesReadOnlyAuth(registry)) return undefined
  // A collection version and a caller are new objects, so new numbers: a key never comes back
  // for another schema or caller, and old ones age out.
  const key = `${numberOf(compiled)}/${numberOf(caller)}\n${filter}\n${sort}`
  let kept = lists.get(key)
  if (kept) {
    lists.delete(key)
  } else {
    const built = build()
    kept = { rows: slotted(built.rows.compile(), SLOT.limit, SLOT.offset), count: built.count.compile() }
    if (lists.size >= LISTS_KEPT) lists.delete(lists.keys().next().value!)
  }
  lists.set(key, kept)
  return kept
}
