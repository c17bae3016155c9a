import type { Collection } from '../model.ts'

/**
 * Which view collections would break if a table or some of its columns changed.
 *
 * Engines disagree here (PostgreSQL refuses to drop a column a view uses, SQLite and MySQL drop it
 * and leave the view broken), so Plinth checks before changing anything: a view depends on a
 * collection when its query names the collection's table, and on a column when it also names the
 * column. This is a word match on the query text, so it may refuse a change that would in fact be
 * harmless (a column name that only appears as a string); it never lets a named dependency break.
 */

function mentions(query: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`, 'i').test(query)
}

/** Views (other than `self`) whose query names `table` and, when given, any of `columns`. */
export function dependentViews(all: Collection[], table: string, columns?: string[]): Collection[] {
  return all.filter((v) => {
    if (v.type !== 'view' || !v.viewQuery || !mentions(v.viewQuery, table)) return false
    return columns === undefined || columns.some((c) => mentions(v.viewQuery!, c))
  })
}

/**
 * The columns of `prev` that `next` removes, renames or re-types (single <-> multi), plus the whole
 * table (`columns` undefined) when the collection is renamed.
 */
export function breakingChanges(next: Collection, prev: Collection, isConverted: (a: Collection['fields'][number], b: Collection['fields'][number]) => boolean): { table: boolean; columns: string[] } {
  const columns: string[] = []
  for (const old of prev.fields) {
    const now = next.fields.find((f) => f.id === old.id)
    if (!now || now.name !== old.name || isConverted(now, old)) columns.push(old.name)
  }
  return { table: next.name !== prev.name, columns }
}
