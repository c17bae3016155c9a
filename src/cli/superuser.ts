import { createSuperuser, deleteSuperuser, removeInstallerOnSuperuserCreate, updateSuperuserPassword, upsertSuperuser } from '../auth/superusers.ts'
import { parseDbUrl } from '../config/urls.ts'
import { ApiError } from '../errors.ts'
import { CollectionStore } from '../records/collections/store.ts'
import { RecordsService } from '../records/records-service.ts'
import { migrate } from '../sql/migrate.ts'
import { openSql } from '../sql/open.ts'
import { SqlRouter } from '../sql/router.ts'
import { configFromFlags } from './load.ts'
import type { CliFlags } from './main.ts'

export const superuserUsage = `Usage: plinth superuser <command> EMAIL [PASSWORD]

Commands:
  create EMAIL PASSWORD   create a new superuser
  upsert EMAIL PASSWORD   create, or set the password if EMAIL exists
  update EMAIL PASSWORD   change an existing superuser's password (revokes its tokens)
  delete EMAIL            delete a superuser (never the last one)
`

function describe(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = Object.entries(err.data).map(([k, v]) => `${k}: ${(v as { message?: string }).message ?? ''}`)
    return fields.length ? `${err.message} (${fields.join('; ')})` : err.message
  }
  return (err as Error).message
}

/** `plinth superuser create|upsert|update|delete EMAIL [PASSWORD]`, PocketBase's commands and messages. */
export async function superuserCommand(flags: CliFlags, args: string[]): Promise<number> {
  const [action, email = '', password = ''] = args
  const needsPassword = action === 'create' || action === 'upsert' || action === 'update'
  if (!action || !(needsPassword || action === 'delete')) {
    process.stderr.write(superuserUsage)
    return 2
  }
  if (!email || (needsPassword && !password)) {
    process.stderr.write(`plinth superuser ${action}: missing ${needsPassword ? 'email and password arguments' : 'email argument'}\n`)
    return 2
  }
  const config = configFromFlags(flags)
  const engine = await openSql(parseDbUrl(config.db, 'db'), { limits: config })
  try {
    // The same system migrations serve runs: a fresh data folder works without `plinth migrate` first.
    await migrate(engine)
    // The same write path as the server (validation, hooks, events, installer removal). NB: built
    // here until CLI commands share the composition root, so app-module hooks do not run here yet.
    const records = new RecordsService(await CollectionStore.open(engine), new SqlRouter(engine))
    removeInstallerOnSuperuserCreate(records)
    switch (action) {
      case 'create':
        await createSuperuser(records, email, password)
        process.stdout.write(`Successfully created new superuser "${email}"!\n`)
        return 0
      case 'upsert':
        await upsertSuperuser(records, email, password)
        process.stdout.write(`Successfully saved superuser "${email}"!\n`)
        return 0
      case 'update':
        await updateSuperuserPassword(records, email, password)
        process.stdout.write(`Successfully changed superuser "${email}" password!\n`)
        return 0
      default:
        if (await deleteSuperuser(records, email)) process.stdout.write(`Successfully deleted superuser "${email}"!\n`)
        else process.stdout.write(`superuser "${email}" is missing or already deleted\n`)
        return 0
    }
  } catch (err) {
    process.stderr.write(`plinth superuser ${action}: ${describe(err)}\n`)
    return 1
  } finally {
    await engine.close()
  }
}
