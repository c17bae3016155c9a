import type { Plinth } from '../app.ts'
import { endLog } from '../log.ts'

/**
 * Stops `app` gracefully on SIGTERM or SIGINT and then exits (0, or 1 if stopping failed); a
 * second signal while stopping exits at once with 1. `stopping` says what the stop waits for, in
 * the log line. `signalled()` tells whether a stop has begun.
 */
export function stopOnSignals(app: Plinth, stopping: string, onExit?: () => void): { signalled(): boolean } {
  let signalled = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      app.log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    signalled = true
    app.log.info({ signal }, `stopping: ${stopping}`)
    // Exit explicitly once stopped: a timer or socket left open by app code (or a request cut at
    // shutdownTimeout whose handler still waits) must not keep a stopped process alive.
    const exit = (code: number) => {
      onExit?.()
      process.exitCode = code
      // Logs go to stdout asynchronously: exit only once they are written, or a line still in
      // flight could land after (or without) the ones flushed at exit. Bounded, in case it never calls back.
      const force = setTimeout(() => process.exit(code), 2000)
      force.unref()
      endLog(app.log, () => process.exit(code))
    }
    app.stop().then(
      () => {
        app.log.info('stopped')
        exit(0)
      },
      (err: unknown) => {
        app.log.error({ err }, 'stop failed')
        exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  return { signalled: () => signalled }
}
