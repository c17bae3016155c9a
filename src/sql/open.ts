import type { DbTarget } from '../config/urls.ts'
import type { OpenOptions, SqlEngine } from './sql.ts'

/** Opens the engine a parsed URL names; each engine's driver is imported only here, on demand. */
export async function openSql(target: DbTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  switch (target.engine) {
    case 'sqlite':
      return (await import('./sqlite.ts')).openSqlite(target, opts)
    case 'postgres':
      return (await import('./postgres.ts')).openPostgres(target, opts)
    case 'mysql':
      return (await import('./mysql.ts')).openMysql(target, opts)
  }
}
