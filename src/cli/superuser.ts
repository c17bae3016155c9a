import { createSuperuser, deleteSuperuser, updateSuperuserPassword, upsertSuperuser } from '../auth/superusers.ts'
import { ApiError } from '../errors.ts'
import { configFromFlags, openCommandCore } from './load.ts'
import { superuserUsage } from './superuser-usage.ts'
import type { CliFlags } from './main.ts'


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
  // The same root as serve: same data folder, engines and migrations (a fresh folder works
  // without `plinth migrate` first).
  const core = await openCommandCore(configFromFlags(flags))
  try {
    // The same write path as the server (validation, hooks, events, installer removal).
    // NB: the app module is not loaded here, so its record hooks do not run for CLI writes.
    const records = core.records
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
    await core.close()
  }
}
