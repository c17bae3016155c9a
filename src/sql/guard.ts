import type { DatabaseConnection, Dialect, Driver } from 'kysely'
import { SqlInvalidTextError, SqlTimeoutError, SqlUnavailableError, SqlUniqueViolationError, type SqlErrorKind } from './errors.ts'

/** Sorts a driver's error; each engine knows its own codes. */
export type ClassifyError = (err: unknown) => SqlErrorKind

/** Rethrows a driver error as the SQL port's own error (timeout, unavailable, invalid text, unique violation) when it is one of those. */
export function translate(err: unknown, classify: ClassifyError): unknown {
  if (err instanceof SqlTimeoutError || err instanceof SqlUnavailableError || err instanceof SqlInvalidTextError || err instanceof SqlUniqueViolationError) return err
  switch (classify(err)) {
    case 'timeout':
      return new SqlTimeoutError('statement cancelled: it ran past statementTimeout', err)
    case 'unavailable':
      return new SqlUnavailableError(`database unavailable: ${(err as Error)?.message ?? String(err)}`, err)
    case 'invalid_text':
      return new SqlInvalidTextError(`a value the database cannot take as text: ${(err as Error)?.message ?? String(err)}`, err)
    case 'unique_violation':
      return new SqlUniqueViolationError(`unique constraint violated: ${(err as Error)?.message ?? String(err)}`, err)
    default:
      return err
  }
}

/**
 * Wraps a Kysely dialect so that acquiring a connection and running a statement throw the SQL
 * port's own errors (errors.ts) for what the engine's `classify` recognises. Everything else
 * passes through untouched.
 */
export function guardDialect(dialect: Dialect, classify: ClassifyError): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => guardDriver(dialect.createDriver(), classify),
  }
}

function guardDriver(inner: Driver, classify: ClassifyError): Driver {
  const guarded = new WeakSet<DatabaseConnection>()
  const guard = (conn: DatabaseConnection): DatabaseConnection => {
    if (guarded.has(conn)) return conn
    guarded.add(conn)
    // NB: patched on the instance, not wrapped: drivers release a connection through private
    // members of their own connection class, so the object they handed out must come back.
    const execute = conn.executeQuery.bind(conn)
    conn.executeQuery = async (query) => {
      try {
        return await execute(query)
      } catch (err) {
        throw translate(err, classify)
      }
    }
    return conn
  }
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'acquireConnection') {
        return async () => {
          try {
            return guard(await target.acquireConnection())
          } catch (err) {
            throw translate(err, classify)
          }
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      // Drivers keep their pool in private fields: their methods must run with the real `this`.
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}
