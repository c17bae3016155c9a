/** Progress of a long command: a bar on a terminal (cli-progress), else a plain line every few seconds. */

/** Seconds between progress lines when stderr is not a terminal. */
const LINE_EVERY_MS = 5000

export interface RowProgress {
  tick(table: string, rows: number): void
  /** The total, once known. */
  setTotal(rows: number): void
  /** A phase change (`verifying`), shown beside the count. */
  note(phase: string): void
  stop(): void
}

/** Progress over `total` rows, labelled `what` (`db copy`). */
export async function rowProgress(what: string, total: number): Promise<RowProgress> {
  let done = 0
  let table = ''
  const started = Date.now()
  const rate = () => Math.round(done / Math.max(0.001, (Date.now() - started) / 1000))
  if (process.stderr.isTTY) {
    const { SingleBar, Presets } = await import('cli-progress')
    const bar = new SingleBar({ stream: process.stderr, format: `${what} [{bar}] {value}/{total} rows | {table} | {rate} rows/s | {eta_formatted} left` }, Presets.shades_classic)
    bar.start(total, 0, { table: '', rate: 0 })
    return {
      tick(t, n) {
        done += n
        bar.increment(n, { table: t, rate: rate() })
      },
      setTotal: (rows) => bar.setTotal(rows),
      note: (phase) => bar.update({ table: phase }),
      stop: () => bar.stop(),
    }
  }
  const line = () => process.stderr.write(`${what}: ${done}/${total} rows${table ? ` (${table})` : ''}, ${rate()} rows/s\n`)
  const timer = setInterval(line, LINE_EVERY_MS)
  timer.unref()
  return {
    tick(t, n) {
      done += n
      table = t
    },
    setTotal(rows) {
      total = rows
    },
    note(phase) {
      table = phase
      line()
    },
    stop() {
      clearInterval(timer)
    },
  }
}
