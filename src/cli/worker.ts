import { createPlinth } from '../app.ts'
import { configFromFlags, findAppModule, loadAppModule } from './load.ts'
import type { CliFlags } from './main.ts'
import { stopOnSignals } from './stop.ts'

/**
 * `plinth worker`: runs the app module's jobs and cron schedules, without listening for HTTP.
 * The app is built as for serve (the module may add routes; they are simply not served), so the
 * module runs unchanged on API and job nodes. Stops on SIGTERM or SIGINT: running jobs get
 * `shutdownTimeout` to finish and are then handed back to the queue; a second signal exits at once.
 */
export async function worker(flags: CliFlags): Promise<number> {
  const config = configFromFlags(flags)
  const appFile = findAppModule(flags)
  const setup = appFile ? await loadAppModule(appFile) : undefined
  const app = await createPlinth({ config })
  try {
    if (setup) {
      await setup(app)
      app.log.info({ module: appFile }, 'loaded app module')
    }
    app.jobs.startWorker()
  } catch (err) {
    await app.stop()
    throw err
  }
  // Something must keep the process alive while it waits for jobs: the SQL queue's timers do, but
  // BullMQ's blocking connections may be between commands, and a module with no jobs has none.
  const alive = setInterval(() => {}, 1 << 30)
  stopOnSignals(app, 'finishing running jobs', () => clearInterval(alive))
  return 0
}
