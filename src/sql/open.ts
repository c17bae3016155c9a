import type { DbTarget } from '../config/urls.ts'
import { StartupError } from '../config/errors.ts'
import { maskUrl } from '../config/load.ts'
import type { OpenOptions, SqlEngine } from './sql.ts'

/**
 * Opens the engine a parsed URL names and checks that it answers; each engine's driver is
 * imported only here, on demand. A database that cannot be reached, refuses the login or does not
 * exist throws a StartupError: one line naming the URL (password masked) and, for a missing
 * database, how to create it.
 */
export async function openSql(target: DbTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  if (target.engine === 'sqlite') return (await import('./sqlite.ts')).openSqlite(target, opts)
  const mod = target.engine === 'postgres' ? await import('./postgres.ts') : await import('./mysql.ts')
  const engine = target.engine === 'postgres' ? await (mod as typeof import('./postgres.ts')).openPostgres(target, opts) : await (mod as typeof import('./mysql.ts')).openMysql(target, opts)
  try {
    await engine.ping()
  } catch (err) {
    await engine.close().catch(() => {})
    const why = mod.describeConnectError((err as { cause?: unknown }).cause ?? err, target)
    if (why) throw new StartupError(`db: ${maskUrl(target.url)}: ${why}`)
    throw err
  }
  return engine
}
