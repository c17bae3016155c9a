import { parseDbUrl } from '../config/urls.ts'
import { migrate } from '../sql/migrate.ts'
import { systemMigrations } from '../records/collections/migrations.ts'
import { openSql } from '../sql/open.ts'
import { configFromFlags } from './load.ts'
import type { CliFlags } from './main.ts'

/** `plinth migrate`: applies pending system migrations and exits (serve does this on start too). */
export async function migrateCommand(flags: CliFlags): Promise<number> {
  const config = configFromFlags(flags)
  const engine = await openSql(parseDbUrl(config.db, 'db'), { limits: config })
  try {
    const { applied } = await migrate(engine, systemMigrations(engine.dialect))
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n')
    return 0
  } finally {
    await engine.close()
  }
}
