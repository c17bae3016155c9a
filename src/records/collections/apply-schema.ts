import { ApiError } from '../../errors.ts'
import { ROWID_COLUMN, type SqlDialect } from '../../sql/dialect.ts'
import { assignFieldIds } from '../fields/definition.ts'
import type { Collection } from '../model.ts'
import { fieldError, setError, type ErrorTree } from './errors.ts'
import { createRecordTable, createView, dropView, findViolatedUniqueIndex, IndexError, syncRecordTable, type Db, type OnPhase } from './schema-sync.ts'
import { inferViewFields, normalizeViewQuery } from './view-query.ts'

/** Creates or changes the table (or view) of `next`; `prev` is the current definition, if any. */
export async function applySchema(db: Db, dialect: SqlDialect, next: Collection, prev: Collection | undefined, lookup: (k: string) => Collection | undefined, message: string | undefined, onPhase: OnPhase): Promise<void> {
  if (next.type === 'view') {
    const q = normalizeViewQuery(next.viewQuery ?? '')
    if ('error' in q) throw viewError(q.error, message)
    if (prev) await dropView(db, prev.name)
    try {
      await createView(db, next.name, q.query)
      const info = (await db.introspection.getTables()).find((t) => t.name === next.name)
      // `SELECT *` on PostgreSQL also returns the hidden @rowid column (SQLite and MariaDB hide theirs).
      const columns = (info?.columns.map((col) => col.name) ?? []).filter((name) => name !== ROWID_COLUMN)
      next.fields = inferViewFields(q.query, columns, lookup)
    } catch (err) {
      throw viewError((err as Error).message, message)
    }
    assignFieldIds(next.fields, prev?.fields)
    next.viewQuery = q.query
    return
  }
  try {
    if (prev) {
      const violated = await findViolatedUniqueIndex(db, next, prev)
      if (violated !== undefined) throw new IndexError(violated, 'Failed to create index: the existing records have duplicate values.')
      await syncRecordTable(db, dialect, next, prev, onPhase)
    } else {
      await createRecordTable(db, dialect, next)
    }
  } catch (err) {
    if (err instanceof IndexError) {
      const errors: ErrorTree = {}
      setError(errors, ['indexes', err.position], fieldError('validation_invalid_index_expression', err.message))
      throw new ApiError('validation_failed', message, errors)
    }
    throw err
  }
}

function viewError(detail: string, message?: string): ApiError {
  const errors: ErrorTree = {}
  setError(errors, ['viewQuery'], fieldError('validation_invalid_view_query', `Invalid query - ${detail.slice(0, 500)}`))
  return new ApiError('validation_failed', message, errors)
}
