import type { FieldError } from '../../errors.ts'
import type { SqlCapabilities } from '../../sql/sql.ts'

export interface PrepareContext {
  capabilities: SqlCapabilities
  /**
   * Superusers, and auth-collection managers (`manageRule`), may set hidden fields, change
   * `verified`/`email` and the password without `oldPassword`.
   */
  isSuperuser: boolean
}

export interface PreparedRecord {
  /** Column values ready for INSERT/UPDATE (only the columns to write on update). */
  values: Record<string, unknown>
  /** Per-field errors in PocketBase's form (`validation_required`, `validation_is_email`, ...). */
  errors: Record<string, FieldError>
  /**
   * What rules see as `@request.body`: the submitted keys, each field's plain and modifier keys
   * replaced by the field's resolved value under its plain name (hidden fields dropped for
   * non-superusers), as PocketBase's `ReplaceModifiers`.
   */
  body: Record<string, unknown>
}
