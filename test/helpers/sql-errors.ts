/** Predicates for `assert.rejects` on errors the SQL engines raise themselves. */

/** A unique-constraint violation on any engine (SQLite, PostgreSQL 23505, MySQL/MariaDB 1062). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string | number; errno?: number } | null
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === '23505' || e?.code === 'ER_DUP_ENTRY' || e?.errno === 1062
}
