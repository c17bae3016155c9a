/**
 * `plinth backup create [NAME] | list | restore KEY`: the backups of `/api/backups` from the
 * command line, against the configured database and files port (src/backups/). `restore` refuses
 * while any node serves this deployment (on the bus, or a heartbeat in this data folder).
 */
import { pino } from 'pino'
import { StartupError } from '../config/errors.ts'
import { maskUrl } from '../config/urls.ts'
import { createLogger } from '../log.ts'
import type { AnyDescriptor } from '../ports.ts'
import type { Bus } from '../bus/bus.ts'
import type { FileStore } from '../files/files.ts'
import { CopyError } from '../copy/copy.ts'
import { BACKUP_NAME, BackupError, Backups } from '../backups/backups.ts'
import { openDbUrl } from './db-copy.ts'
import { configFromFlags } from './load.ts'
import { rowProgress } from './progress.ts'
import type { CliFlags } from './main.ts'
import { backupUsage } from './backup-usage.ts'


export async function backupCommand(flags: CliFlags, args: string[]): Promise<number> {
  const [sub, arg, ...extra] = args
  const ok = extra.length === 0 && ((sub === 'create' && (arg === undefined || BACKUP_NAME.test(arg))) || (sub === 'list' && arg === undefined) || (sub === 'restore' && arg !== undefined))
  if (!ok) {
    if (sub === 'create' && arg) throw new StartupError(`backup create: the name must match ${BACKUP_NAME.source}, got "${arg}"`)
    process.stderr.write(backupUsage)
    return 2
  }
  const config = configFromFlags(flags)
  const { openPorts, portList } = await import('../ports.ts')
  const wanted = (portList as readonly AnyDescriptor[]).filter((d) => d.key === 'bus' || d.key === 'files')
  const log = createLogger({ ...config, logLevel: 'warn' }, pino.destination({ dest: 2, sync: true }))
  const opened = await openPorts(config, { log, metrics: new (await import('../metrics.ts')).Metrics() }, wanted)
  const engine = await openDbUrl(config.db, 'db', config)
  try {
    const backups = new Backups({ sql: () => engine, files: opened.ports.files as FileStore, bus: opened.ports.bus as Bus, dir: config.dir, log })
    if (sub === 'list') {
      const list = await backups.list()
      for (const b of list) process.stdout.write(`${b.key}\t${b.size}\t${b.modified}\n`)
      if (!list.length) process.stdout.write('no backups\n')
      return 0
    }
    if (sub === 'create') {
      if (arg && (await backups.exists(arg))) throw new StartupError(`backup create: ${arg} already exists`)
      const bar = await rowProgress('backup', 0)
      const key = await backups.create(arg, { onTotal: (n) => bar.setTotal(n), onRows: (t, n) => bar.tick(t, n) }).finally(() => bar.stop())
      const info = (await backups.list()).find((b) => b.key === key)
      process.stdout.write(`backup ${key} created (${info?.size ?? '?'} bytes) from ${maskUrl(config.db)}\n`)
      return 0
    }
    const key = arg!
    if (!(await backups.exists(key))) throw new StartupError(`backup restore: there is no backup ${key} (see plinth backup list)`)
    const bar = await rowProgress('restore', 0)
    await backups.restore(key, { onTotal: (n) => bar.setTotal(n), onRows: (t, n) => bar.tick(t, n), onVerify: () => bar.note('views') }).finally(() => bar.stop())
    process.stdout.write(`backup ${key} restored onto ${maskUrl(config.db)}; row counts and checksums verified\n`)
    return 0
  } catch (err) {
    if (err instanceof BackupError) throw new StartupError(`backup ${sub}: ${err.message}`)
    if (err instanceof CopyError) {
      process.stderr.write(`plinth: backup ${sub}: ${err.message}\n`)
      return 1
    }
    throw err
  } finally {
    await engine.close()
    await opened.close()
  }
}
