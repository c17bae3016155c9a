import type { Plinth } from '../app.ts'
import { configFromFlags } from './load.ts'
import type { CliFlags } from './main.ts'

/**
 * SIGHUP: reads the config file and environment again, as at start (same flags), and applies
 * what can change live (`app.reload`, reload.ts). A config that does not load (a typo in the
 * file) is one error line naming the problem; the running settings stay.
 */
export function reloadOnSighup(app: Plinth, flags: CliFlags): void {
  process.on('SIGHUP', () => {
    let next
    try {
      next = configFromFlags(flags)
    } catch (err) {
      app.log.error(`config reload refused, running settings kept: ${(err as Error).message}`)
      return
    }
    app.log.info('SIGHUP: reloading the config')
    app.reload(next).catch((err: unknown) => app.log.error({ err }, 'config reload failed'))
  })
}
