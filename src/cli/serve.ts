import { createPlinth } from '../app.ts'
import { installLink } from '../auth/superusers.ts'
import { configFromFlags, findAppModule, loadAppModule } from './load.ts'
import type { CliFlags } from './main.ts'
import { stopOnSignals } from './stop.ts'
import { reloadOnSighup } from './reload.ts'

/**
 * `plinth serve`: runs until SIGTERM or SIGINT, then stops gracefully and exits 0.
 * A second signal while stopping exits at once with 1. SIGHUP reloads the config (cli/reload.ts).
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
    else app.log.warn('--no-worker: jobs and built-in mails (verification, password reset, OTP, login alerts) wait in the queue until a `plinth worker` runs')
    app.log.info(
      { url, api: `${url}/api/`, health: `${url}/api/health`, engine: app.sql.primary.name, dir: config.dir },
      `Plinth listening on ${url} (REST API ${url}/api/)`,
    )
  } catch (err) {
    await app.stop()
    throw err
  }

  // Signals are handled from the moment the server listens, before any further start-up work.
  const stop = stopOnSignals(app, 'finishing in-flight requests')
  reloadOnSighup(app, flags)

  // First start with no superuser: a one-time, short-lived link to create one (PocketBase's way).
  // A failure here is logged; it must not take down a server that is already serving.
  try {
    await installLink({ records: app.records, baseUrl: config.publicUrl || url, log: app.log })
  } catch (err) {
    if (!stop.signalled()) app.log.error({ err }, 'could not prepare the install link; create a superuser with `plinth superuser create`')
  }
  return 0
}
