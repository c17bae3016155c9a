/**
 * `plinth files cleanup [--dry-run] [--grace DURATION]`: one clean-up pass (files/cleanup.ts) over
 * the configured files engine, as the daily `__plinthFilesCleanup__` cron does: files and thumbs
 * no record holds, direct uploads never confirmed, temp files of writes that never finished, each
 * older than the grace period (default 1h). Progress on stderr (one rewritten line on a terminal,
 * else a line every few seconds), the summary on stdout; a dry run also lists each key.
 */
import { StartupError } from '../config/errors.ts'
import { cleanupFiles, type CleanupProgress } from '../files/cleanup.ts'
import { configFromFlags, openCommandCore } from './load.ts'
import type { CliFlags } from './main.ts'

/** Shorter is refused: a write in flight (stored before its commit) or a direct upload awaiting its confirm could go. */
const MIN_GRACE_MS = 15 * 60_000
const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 }
const LINE_EVERY_MS = 5000

/** `30m`, `2h`, `7d` in milliseconds; throws a one-line operator error otherwise. */
export function parseGrace(text: string): number {
  const m = /^(\d{1,6})([mhd])$/.exec(text.trim())
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN
  if (!(ms >= MIN_GRACE_MS)) throw new StartupError(`files cleanup: --grace ${JSON.stringify(text)} must be a duration like 30m, 2h or 7d, at least 15m`)
  return ms
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1)

function progressDisplay(dryRun: boolean): { show(p: CleanupProgress): void; stop(): void } {
  let last: CleanupProgress = { scanned: 0, found: 0, bytes: 0 }
  const text = () => `files cleanup: ${last.scanned} objects scanned, ${last.found} ${dryRun ? 'to remove' : 'removed'} (${mb(last.bytes)} MB)`
  if (process.stderr.isTTY) {
    let shown = 0
    return {
      show(p) {
        last = p
        // At most ten repaints a second.
        if (Date.now() - shown < 100) return
        shown = Date.now()
        process.stderr.write(`\r${text()}\x1b[K`)
      },
      stop: () => process.stderr.write(`\r${text()}\x1b[K\n`),
    }
  }
  const timer = setInterval(() => process.stderr.write(`${text()}\n`), LINE_EVERY_MS)
  timer.unref()
  return {
    show(p) {
      last = p
    },
    stop: () => clearInterval(timer),
  }
}

/** Returns the exit code: 1 when some removal failed. */
export async function filesCleanupCommand(flags: CliFlags): Promise<number> {
  const dryRun = flags.dryRun === true
  const minAgeMs = flags.grace === undefined ? undefined : parseGrace(flags.grace)
  const core = await openCommandCore(configFromFlags(flags))
  try {
    const display = progressDisplay(dryRun)
    const report = await cleanupFiles({ files: core.files, registry: core.collections, db: core.sql.writer().db, minAgeMs, dryRun, onProgress: (p) => display.show(p) })
    display.stop()
    if (dryRun) for (const key of report.keys) process.stdout.write(`${key}\n`)
    process.stdout.write(
      `files cleanup${dryRun ? ' (dry run)' : ''}: ${report.scanned} objects scanned; ${dryRun ? 'would remove' : 'removed'} ${report.orphans} orphaned files and thumbs, ` +
        `${report.pending} unconfirmed direct uploads, ${report.leftovers} unfinished writes (${mb(report.bytes)} MB)${report.failed ? `; ${report.failed} could not be removed` : ''}\n`,
    )
    return report.failed ? 1 : 0
  } finally {
    await core.close()
  }
}
