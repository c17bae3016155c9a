import { configFromFlags, openCommandCore } from './load.ts'
import type { CliFlags } from './main.ts'

/**
 * `plinth migrate`: applies pending system migrations and exits (serve does this on start too).
 * Opening the core is what migrates: the same root, and so the same database and migrations, as serve.
 */
export async function migrateCommand(flags: CliFlags): Promise<number> {
  const core = await openCommandCore(configFromFlags(flags))
  try {
    process.stdout.write(core.applied.length ? `applied: ${core.applied.join(', ')}\n` : 'nothing to apply\n')
    return 0
  } finally {
    await core.close()
  }
}
