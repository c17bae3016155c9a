/** Predicates for `assert.rejects` on errors the SQL engines raise themselves. */
import { SqlUniqueViolationError } from '../../src/sql/errors.ts'

/** A unique-constraint violation on any engine, as the SQL port's guard reports it. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof SqlUniqueViolationError
}
