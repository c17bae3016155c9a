/** `plinth files` help (kept apart so `plinth help` loads no files code). */
export const filesUsage = `Usage: plinth files copy --to URL [options]

Copies every stored file from the configured files engine (PLINTH_FILES, default the local
folder) to the engine at URL (file://PATH or s3://BUCKET?...), streaming. Each object is read back
from the target and checked by size and sha256; objects already there with the same size and
sha256 are skipped, so the command can be run again to finish an interrupted copy. Progress goes
to stderr (a bar on a terminal), the summary line to stdout. Exits 1 when an object failed.

Options:
  --to URL           the target files URL
`
