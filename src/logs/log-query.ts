import { sql, type Kysely } from 'kysely'
import { ApiError } from '../errors.ts'
import { newCollection } from '../records/collections/defaults.ts'
import { blankField } from '../records/fields/definition.ts'
import { compileParsed, compileSort, parseCached, TRUE, type Expr, type FilterScope } from '../records/filter/index.ts'
import type { Operand } from '../records/filter/parser.ts'
import type { Collection } from '../records/model.ts'
import { GUEST_REQUEST } from '../records/record.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { LOGS_TABLE, type LogsDb } from './logs-db.ts'

/** One log as `/api/logs` answers it (PocketBase's `core.Log`). */
export interface LogJson {
  id: string
  created: string
  data: Record<string, unknown>
  message: string
  level: number
}

export interface LogListQuery {
  page: number
  perPage: number
  filter?: string
  sort?: string
  skipTotal?: boolean
}

export const LOGS_DEFAULT_PER_PAGE = 30
export const LOGS_MAX_PER_PAGE = 1000
/** Hours `/api/logs/stats` returns at most (the newest), whatever the retention. */
export const LOGS_MAX_STATS_HOURS = 24 * 400

/**
 * `_logs` described as a base collection, so the records' filter and sort compiler reads it:
 * PocketBase's log filter fields `id`, `created`, `level`, `message`, `data` and `data.*`
 * (any path in the JSON), nothing else (no `@collection`, no relations).
 */
function logsCollection(): Collection {
  const c = newCollection('base', LOGS_TABLE, 'pbc_logs')
  c.fields = [
    blankField('text', 'id', { primaryKey: true, system: true }),
    blankField('text', 'created'),
    blankField('number', 'level'),
    blankField('text', 'message'),
    blankField('json', 'data'),
  ]
  return c
}

/** Reads the request logs: list, one by id, and counts per hour, with PocketBase's filter syntax. */
export class LogQuery {
  readonly #scope: FilterScope

  constructor(private readonly logs: LogsDb) {
    const collection = logsCollection()
    const registry: CollectionRegistry = {
      get: (idOrName) => (idOrName === collection.id || idOrName === collection.name ? collection : undefined),
      getOrThrow: (idOrName) => {
        if (idOrName === collection.id || idOrName === collection.name) return collection
        throw new ApiError('invalid_filter')
      },
      all: () => [collection],
      reload: async () => {},
    }
    this.#scope = { collection, registry, capabilities: logs.engine.capabilities, request: GUEST_REQUEST, allowHidden: true }
  }

  // NB: `any` is Kysely's convention for a schema known only at run time.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get #db(): Kysely<any> {
    return this.logs.engine.db
  }

  #where(filter: string | undefined) {
    const tree = parseCached(filter ?? '')
    // `@request.*` and `@collection.*` have nothing to read here (macros like `@now` are fine).
    if (tree && readsRequestOrCollection(tree)) throw new ApiError('invalid_filter')
    const where = compileParsed(tree, this.#scope)
    const base = this.#db.selectFrom(LOGS_TABLE)
    return where === TRUE ? base : base.where(where)
  }

  #order(sort: string | undefined) {
    // `@rowid` (what PocketBase's console sorts by) is insertion order: `created`, then `id`.
    const terms = (sort ?? '').split(',').map((t) => t.trim()).filter(Boolean).map((t) => t.replace(/^([-+]?)@rowid$/, '$1created'))
    if (terms.some((t) => t.replace(/^[-+]/, '').startsWith('@'))) throw new ApiError('invalid_filter')
    return terms.length ? compileSort(terms.join(','), this.#scope) : []
  }

  async list(q: LogListQuery): Promise<{ page: number; perPage: number; totalItems: number; totalPages: number; items: LogJson[] }> {
    const page = q.page >= 1 ? q.page : 1
    const perPage = q.perPage >= 1 ? Math.min(q.perPage, LOGS_MAX_PER_PAGE) : LOGS_DEFAULT_PER_PAGE
    const base = this.#where(q.filter)
    const order = this.#order(q.sort)
    if (!order.length) order.push(sql`${sql.ref('created')} desc`)
    order.push(sql`${sql.ref('id')} desc`)
    const offset = (page - 1) * perPage
    const rowsQuery = order.reduce((qb, o) => qb.orderBy(o), base.selectAll()).limit(perPage).offset(offset)
    const [rows, total] = await Promise.all([
      offset > Number.MAX_SAFE_INTEGER ? [] : rowsQuery.execute(),
      q.skipTotal ? -1 : base.select(sql<number>`count(*)`.as('n')).executeTakeFirst().then((r) => Number((r as { n?: unknown } | undefined)?.n ?? 0)),
    ])
    return { page, perPage, totalItems: total, totalPages: total < 0 ? -1 : Math.ceil(total / perPage), items: rows.map(toLog) }
  }

  async view(id: string): Promise<LogJson | undefined> {
    if (id.includes('\0')) return undefined
    const row = await this.#db.selectFrom(LOGS_TABLE).selectAll().where('id', '=', id).executeTakeFirst()
    return row ? toLog(row) : undefined
  }

  /** PocketBase's `LogsStats`: `[{total, date}]` per hour, oldest first (`date` as `YYYY-MM-DD HH:00:00.000Z`). */
  async stats(filter: string | undefined): Promise<{ total: number; date: string }[]> {
    // `created` is text in PocketBase's date form, so its first 13 characters are the hour on every engine.
    const hour = sql<string>`substr(${sql.ref('created')}, 1, 13)`
    const rows = await this.#where(filter)
      .select([hour.as('hour'), sql<number>`count(*)`.as('total')])
      .groupBy(hour)
      .orderBy(hour, 'desc')
      .limit(LOGS_MAX_STATS_HOURS)
      .execute()
    return (rows as { hour: string; total: unknown }[]).reverse().map((r) => ({ total: Number(r.total), date: `${r.hour}:00:00.000Z` }))
  }
}

function readsRequestOrCollection(e: Expr): boolean {
  if (e.kind !== 'compare') return e.items.some(readsRequestOrCollection)
  const named = (o: Operand): boolean => (o.kind === 'ident' ? /^@(request|collection)\./.test(o.name) : o.kind === 'call' && o.args.some(named))
  return named(e.left) || named(e.right)
}

function toLog(row: Record<string, unknown>): LogJson {
  let data = row.data
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data)
    } catch {
      data = {}
    }
  }
  return {
    id: String(row.id),
    created: String(row.created),
    data: data && typeof data === 'object' ? (data as Record<string, unknown>) : {},
    message: String(row.message),
    level: Number(row.level),
  }
}
