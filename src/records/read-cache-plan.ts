import type { Collection } from './model.ts'
import type { CollectionRegistry } from './registry.ts'

/**
 * Which collections a compiled read statement depends on, decided once per statement text and
 * schema snapshot: the read cache (read-cache.ts) keys an entry by the generation of each of them,
 * so a write to any one makes the entry unreachable.
 *
 * A statement depends on every collection whose table it names (Kysely quotes every identifier,
 * `"posts"` or `` `posts` ``; a rule's relation hops and `@collection.*` joins name their tables
 * the same way), and a view collection also on every collection its query names, transitively.
 * This is a text match, so it may find a dependency that is not there (a column spelled like a
 * table): a needless miss, never a stale hit.
 *
 * Not cacheable (undefined), read from SQL every time:
 * - a statement naming a system collection (`_superusers`, `_otps`, `_mfas`, ...): some of those
 *   are written outside the records service (auth flows delete OTPs directly), so their writes
 *   would not move a generation;
 * - a statement naming no collection at all (nothing would ever invalidate it);
 * - a statement whose answer changes without any write: `sort=@random` (`random()`/`rand()`).
 *   Datetime macros (`@now`) are bound parameters, so they are part of the key already.
 */
export interface ReadPlan {
  /** The ids of the collections the statement depends on, sorted. */
  ids: string[]
  /**
   * Columns never stored in the cache: `tokenKey` and every password field (hashes). No read that
   * goes through the cache returns them to anyone (records-visibility.ts drops them always), so
   * the cache (Redis, readable by whoever reaches it) holds no hash and no token key.
   */
  secret: Set<string>
}

const RANDOM = /\b(random|rand)\s*\(/i
const KEPT = 10_000

function mentions(query: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`, 'i').test(query)
}

export class ReadPlans {
  #schema: readonly Collection[] | undefined
  #plans = new Map<string, ReadPlan | null>()

  constructor(private readonly registry: CollectionRegistry) {}

  /** The plan of the statement `sqlText` under the schema loaded now; undefined when it must not be cached. */
  plan(sqlText: string): ReadPlan | undefined {
    const all = this.registry.all()
    if (all !== this.#schema) {
      // A new schema snapshot: table names and view queries may have changed.
      this.#schema = all
      this.#plans = new Map()
    }
    let plan = this.#plans.get(sqlText)
    if (plan === undefined) {
      plan = build(all, sqlText)
      if (this.#plans.size >= KEPT) this.#plans.clear()
      this.#plans.set(sqlText, plan)
    }
    return plan ?? undefined
  }
}

function build(all: readonly Collection[], sqlText: string): ReadPlan | null {
  if (RANDOM.test(sqlText)) return null
  const text = sqlText.toLowerCase()
  const named = all.filter((c) => {
    const n = c.name.toLowerCase()
    return text.includes(`"${n}"`) || text.includes(`\`${n}\``)
  })
  const deps = new Set<Collection>(named)
  // Views read other tables: a write there must reach the view's entries too.
  const pending = named.filter((c) => c.type === 'view')
  while (pending.length) {
    const view = pending.pop()!
    for (const c of all) {
      if (c === view || deps.has(c) || !view.viewQuery || !mentions(view.viewQuery, c.name)) continue
      deps.add(c)
      if (c.type === 'view') pending.push(c)
    }
  }
  if (deps.size === 0 || [...deps].some((c) => c.system)) return null
  const secret = new Set(['tokenKey', ...[...deps].flatMap((c) => c.fields.filter((f) => f.type === 'password').map((f) => f.name))])
  return { ids: [...deps].map((c) => c.id).sort(), secret }
}
