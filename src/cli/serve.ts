import { createPlinth } from '../app.ts'
import { endLog } from '../log.ts'
import { installLink } from '../auth/superusers.ts'
import { configFromFlags, findAppModule, loadAppModule } from './load.ts'
import type { CliFlags } from './main.ts'

/**
 * `plinth serve`: runs until SIGTERM or SIGINT, then stops gracefully and exits 0.
 * A second signal while stopping exits at once with 1.
 */
export async function serve(flags: CliFlags): Promise<number> {
  const config = configFromFlags(flags)
  const appFile = findAppModule(flags)
  const setup = appFile ? await loadAppModule(appFile) : undefined
  const app = await createPlinth({ config })
  let url: string
  try {
    if (setup) {
      await setup(app)
      app.log.info({ module: appFile }, 'loaded app module')
    }
    url = await app.start()
    // Jobs and cron run here too unless a dedicated `plinth worker` does them.
    if (!flags.noWorker) app.jobs.startWorker()
    app.log.info(
      { url, api: `${url}/api/`, health: `${url}/api/health`, engine: app.sql.primary.name, dir: config.dir },
      `Plinth listening on ${url} (REST API ${url}/api/)`,
    )
  } catch (err) {
    await app.stop()
    throw err
  }

  let signalled = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      app.log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    signalled = true
    app.log.info({ signal }, 'stopping: finishing in-flight requests')
    // Exit explicitly once stopped: a timer or socket left open by app code (or a request cut at
    // shutdownTimeout whose handler still waits) must not keep a stopped server's process alive.
    const exit = (code: number) => {
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
  // Signals are handled from the moment the server listens, before any further start-up work.
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)

  // First start with no superuser: a one-time, short-lived link to create one (PocketBase's way).
  // A failure here is logged; it must not take down a server that is already serving.
  try {
    await installLink({ records: app.records, baseUrl: config.publicUrl || url, log: app.log })
  } catch (err) {
    if (!signalled) app.log.error({ err }, 'could not prepare the install link; create a superuser with `plinth superuser create`')
  }
  return 0
}
