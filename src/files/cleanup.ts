/**
 * The files clean-up pass: removes what a crash or a failed removal left in storage, older than a
 * grace period (default one hour, so a write still in flight is never touched):
 * - orphans: files and thumbs no record holds (orphans.ts);
 * - direct uploads never confirmed (`_pending/...`, their URL lived 15 minutes);
 * - leftovers of writes that never finished (the local engine's temp files).
 * Run by `plinth files cleanup [--dry-run]` and daily by the `__plinthFilesCleanup__` cron.
 */
import type { Jobs } from '../jobs/jobs.ts'
import type { Logger } from '../log.ts'
import type { StoredObject } from './files.ts'
import { findOrphanObjects, type OrphanOptions } from './orphans.ts'

export interface CleanupProgress {
  /** Objects looked at so far. */
  scanned: number
  /** Objects found to remove so far (removed unless a dry run). */
  found: number
  bytes: number
}

export interface CleanupOptions extends OrphanOptions {
  /** Report what would go, remove nothing. */
  dryRun?: boolean
  onProgress?: (p: CleanupProgress) => void
  /** Stops between objects once aborted (the cron's timeout); what was removed stays removed. */
  signal?: AbortSignal
}

export interface CleanupReport extends CleanupProgress {
  orphans: number
  pending: number
  leftovers: number
  /** Objects whose removal failed (kept for the next pass). */
  failed: number
  /** The keys removed (or, in a dry run, to remove), in the order found. */
  keys: string[]
}

/** One clean-up pass; see the module comment. */
export async function cleanupFiles(opts: CleanupOptions): Promise<CleanupReport> {
  const now = opts.now ?? new Date()
  const minAgeMs = opts.minAgeMs ?? 3_600_000
  const report: CleanupReport = { scanned: 0, found: 0, bytes: 0, orphans: 0, pending: 0, leftovers: 0, failed: 0, keys: [] }
  const progress = () => opts.onProgress?.({ scanned: report.scanned, found: report.found, bytes: report.bytes })
  const take = async (o: StoredObject, kind: 'orphans' | 'pending' | 'leftovers') => {
    if (!opts.dryRun) {
      try {
        await opts.files.delete(o.key)
      } catch {
        report.failed++
        return
      }
    }
    report[kind]++
    report.found++
    report.bytes += o.size
    report.keys.push(o.key)
    progress()
  }
  const onScanned = () => {
    report.scanned++
    if (report.scanned % 100 === 0) progress()
  }
  for await (const found of findOrphanObjects({ ...opts, now, minAgeMs, onScanned })) {
    opts.signal?.throwIfAborted()
    await take(found.object, found.kind === 'pending' ? 'pending' : 'orphans')
  }
  if (opts.files.leftovers) {
    for await (const o of opts.files.leftovers(new Date(now.getTime() - minAgeMs))) {
      opts.signal?.throwIfAborted()
      report.scanned++
      await take(o, 'leftovers')
    }
  }
  progress()
  return report
}

/** The cron's id and schedule: daily, at an hour off the top of the clock. */
export const FILES_CLEANUP_CRON = { id: '__plinthFilesCleanup__', expression: '43 3 * * *' }

/** Registers the daily clean-up; defined in the core, so `plinth worker` nodes run it too. */
export function defineFilesCleanup(jobs: Jobs, deps: Pick<OrphanOptions, 'files' | 'registry'> & { db: () => OrphanOptions['db']; log: Logger }): void {
  jobs.cron(FILES_CLEANUP_CRON.id, FILES_CLEANUP_CRON.expression, async ({ signal }) => {
    const { log, files, registry } = deps
    const r = await cleanupFiles({ files, registry, db: deps.db(), signal })
    if (r.found || r.failed) log.info({ orphans: r.orphans, pending: r.pending, leftovers: r.leftovers, bytes: r.bytes, failed: r.failed }, 'files: clean-up removed what no record holds')
  }, { timeout: 6 * 3_600_000 })
}
