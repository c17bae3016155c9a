import type { DbTarget, ServerTarget } from '../config/urls.ts'
import { StartupError } from '../config/errors.ts'
import { maskUrl } from '../config/urls.ts'
import type { OpenOptions, SqlEngine } from './sql.ts'

/** A server engine's module: how to open it, and how to explain a failed first connection. */
interface ServerEngineModule {
  open(target: ServerTarget, opts: OpenOptions): Promise<SqlEngine>
  describeConnectError(err: unknown, target: ServerTarget): string | undefined
}

async function serverEngine(engine: ServerTarget['engine']): Promise<ServerEngineModule> {
  if (engine === 'postgres') {
    const m = await import('./postgres/engine.ts')
    return { open: m.openPostgres, describeConnectError: m.describeConnectError }
  }
  const m = await import('./mysql/engine.ts')
  return { open: m.openMysql, describeConnectError: m.describeConnectError }
}

/**
 * Opens the engine a parsed URL names and checks that it answers; each engine's driver is
 * imported only here, on demand. A server that cannot be reached, refuses the login or lacks the
 * database throws a StartupError: one line naming the URL (password masked) and, for a missing
 * database, how to create it.
 */
export async function openSql(target: DbTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  if (target.engine === 'sqlite') return (await import('./sqlite/engine.ts')).openSqlite(target, opts)
  const mod = await serverEngine(target.engine)
  const engine = await mod.open(target, opts)
  try {
    await engine.ping()
  } catch (err) {
    await engine.close().catch(() => {})
    // The guard may have wrapped the driver's error; the driver's own code is what explains it.
    const why = mod.describeConnectError((err as { cause?: unknown }).cause ?? err, target)
    if (why) throw new StartupError(`db: ${maskUrl(target.url)}: ${why}`)
    throw err
  }
  return engine
}

/**
 * Opens a server engine without waiting for it to answer: for replicas and the DR instance, which
 * may be down when a node starts (the router probes them and routes around them until they answer).
 */
export async function openSqlUnchecked(target: ServerTarget, opts: OpenOptions = {}): Promise<SqlEngine> {
  return (await serverEngine(target.engine)).open(target, opts)
}
