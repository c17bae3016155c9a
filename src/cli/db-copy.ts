/**
 * `plinth db copy --to URL [--from URL] [--force]`: copies a whole deployment's database (system
 * tables, collections, record tables and records, file metadata) from one engine to another,
 * e.g. from the embedded SQLite onto PostgreSQL before switching `db` over. The engine is
 * src/copy/: one snapshot of the source, each table in one transaction on the target, every
 * table's row count and checksum verified. Stored files move with `plinth files copy`.
 */
import type { PlinthConfig } from '../config/schema.ts'
import { StartupError } from '../config/errors.ts'
import { maskUrl, parseDbUrl } from '../config/urls.ts'
import type { SqlEngine } from '../sql/sql.ts'
import { sameUrl } from '../sql/router.ts'
import { copyInto, CopyError, type CopyReport } from '../copy/copy.ts'
import { withDatabaseSource } from '../copy/source.ts'
import { tableCount } from '../copy/target.ts'
import { rowProgress } from './progress.ts'
import type { CliFlags } from './main.ts'

/** Opens a database URL given on the command line (`flag` names it in errors). */
export async function openDbUrl(url: string, flag: string, config: Readonly<PlinthConfig>): Promise<SqlEngine> {
  const { openSql } = await import('../sql/open.ts')
  return openSql(parseDbUrl(url, flag), { limits: { ...config, poolSize: 2 } })
}

/** Refuses a target that holds anything, unless `force`: one line, exit 2. */
export async function refuseNonEmpty(target: SqlEngine, url: string, force: boolean, what: string): Promise<void> {
  const n = await tableCount(target)
  if (n && !force) throw new StartupError(`${what}: the target ${maskUrl(url)} is not empty (${n} tables); pass --force to replace its content`)
}

/** The end of a copy, one line, and any notes. */
export function printReport(what: string, report: CopyReport, from: string, to: string): void {
  for (const n of report.notes) process.stderr.write(`${what}: ${n}\n`)
  process.stdout.write(`${what}: ${report.rows} rows in ${report.tables.length} tables from ${from} to ${to}; row counts and checksums verified\n`)
}

export async function dbCopy(config: Readonly<PlinthConfig>, flags: CliFlags): Promise<number> {
  if (!flags.to) throw new StartupError('db copy: --to URL is required (sqlite://PATH, postgres://..., mysql://...)')
  const fromUrl = flags.from ?? config.db
  if (sameUrl(fromUrl, flags.to)) throw new StartupError(`db copy: --to ${maskUrl(flags.to)} is the source itself`)
  parseDbUrl(flags.to, '--to')
  const source = await openDbUrl(fromUrl, flags.from ? '--from' : 'db', config)
  let target: SqlEngine | undefined
  try {
    const names = new Set((await source.db.introspection.getTables()).map((t) => t.name))
    if (!names.has('_plinth_migrations') || !names.has('_collections')) throw new StartupError(`db copy: the source ${maskUrl(fromUrl)} is not a Plinth database (no _plinth_migrations or _collections table)`)
    target = await openDbUrl(flags.to, '--to', config)
    await refuseNonEmpty(target, flags.to, !!flags.force, 'db copy')
    const into = target
    const report = await withDatabaseSource(source, maskUrl(fromUrl), async (src) => {
      const bar = await rowProgress('db copy', [...src.counts.values()].reduce((a, b) => a + b, 0))
      try {
        return await copyInto(src, into, { onRows: (table, n) => bar.tick(table, n), onVerify: () => bar.note('views') })
      } finally {
        bar.stop()
      }
    })
    printReport('db copy', report, maskUrl(fromUrl), maskUrl(flags.to))
    return 0
  } catch (err) {
    if (err instanceof CopyError) {
      process.stderr.write(`plinth: db copy: ${err.message}\n`)
      return 1
    }
    throw err
  } finally {
    await Promise.all([source.close(), target?.close()])
  }
}
