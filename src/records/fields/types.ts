import type { FieldError } from '../../errors.ts'
import type { SqlCapabilities } from '../../sql/sql.ts'

export interface PrepareContext {
  capabilities: SqlCapabilities
  /**
   * Superusers, and auth-collection managers (`manageRule`), may set hidden fields, change
   * `verified`/`email` and the password without `oldPassword`.
   */
  isSuperuser: boolean
  /**
   * Takes one throttled password attempt before `oldPassword` is checked (throws 429 when the
   * account or address is over its limit); `succeeded()` when it was right. Without it, unthrottled.
   */
  passwordAttempt?: () => Promise<{ succeeded(): Promise<void> }>
  /**
   * Leave `oldPassword` unchecked and say so (`oldPasswordPending`): for the pass before the update
   * rule, so a caller the rule refuses never gets a (costly, counted) password check.
   */
  deferOldPassword?: boolean
}

/**
 * Limits password checks per account and client address; the auth layer's `AuthThrottle` is one.
 * Records take it by this shape so that they never import auth.
 */
export interface PasswordGuard {
  begin(collectionId: string, identity: string, ip: string): Promise<{ succeeded(): Promise<void> }>
}

export interface PreparedRecord {
  /** True when `deferOldPassword` left an `oldPassword` check to be done. */
  oldPasswordPending?: boolean
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
