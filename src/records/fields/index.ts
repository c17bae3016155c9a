import type { FieldError } from '../../errors.ts'
import type { SqlCapabilities } from '../../sql/sql.ts'
import type { Collection } from '../model.ts'
import type { RecordJson } from '../record.ts'

/**
 * Field values: API input -> column values, and rows -> API JSON.
 * OWNER: collections (src/records/fields/). INTERFACE STUB: replaced by the collections work.
 */
export interface PrepareContext {
  capabilities: SqlCapabilities
  /** Superusers may set `id` freely and change `verified`/`emailVisibility`/`tokenKey`-guarded values. */
  isSuperuser: boolean
}

export interface PreparedRecord {
  /** Column values ready for INSERT/UPDATE (only the columns to write on update). */
  values: Record<string, unknown>
  /** Per-field errors in PocketBase's form (`validation_required`, `validation_invalid_email`, ...). */
  errors: Record<string, FieldError>
}

/**
 * Validates and converts submitted values. Handles every field type's options, the `field+` /
 * `+field` / `field-` modifiers, autodate, id generation, password hashing. Unknown keys are ignored.
 * `existing` is the current record on update, undefined on create.
 */
export async function prepareRecord(
  _collection: Collection,
  _input: Record<string, unknown>,
  _existing: RecordJson | undefined,
  _ctx: PrepareContext,
): Promise<PreparedRecord> {
  throw new Error('prepareRecord: not built yet')
}

/** A database row to API JSON (every field, hidden ones included: callers strip them). */
export function rowToRecord(_collection: Collection, _row: Record<string, unknown>): RecordJson {
  throw new Error('rowToRecord: not built yet')
}
