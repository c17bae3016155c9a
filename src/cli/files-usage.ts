/** `plinth files` help (kept apart so `plinth help` loads no files code). */
export const filesUsage = `Usage: plinth files copy --to URL [options]
       plinth files cleanup [--dry-run] [--grace DURATION] [options]

Copies every stored file from the configured files engine (PLINTH_FILES, default the local
folder) to the engine at URL (file://PATH or s3://BUCKET?...), streaming. Each object is read back
from the target and checked by size and sha256; objects already there with the same size and
sha256 are skipped, so the command can be run again to finish an interrupted copy. Progress goes
to stderr (a bar on a terminal), the summary line to stdout. Exits 1 when an object failed.

cleanup removes what a crash or a failed removal left in storage, older than the grace period:
files and thumbs no record holds, direct uploads never confirmed (_pending/), temp files of writes
that never finished. The same pass runs daily as the __plinthFilesCleanup__ cron. Progress goes to
stderr, the summary to stdout; --dry-run removes nothing and lists the keys that would go. Exits 1
when an object could not be removed.

Options:
  --to URL           copy: the target files URL
  --dry-run          cleanup: report only
  --grace DURATION   cleanup: leave anything younger than this (30m, 2h, 7d; default 1h, at least 15m)
`
