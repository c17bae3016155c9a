import type { Jobs } from '../jobs/jobs.ts'
import { MFAS, OTPS } from '../records/collections/auth-system.ts'
import { isAuthCollection, toDbDate, type AuthCollection } from '../records/model.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { Db } from './records.ts'

interface CleanupDeps {
  registry: CollectionRegistry
  db: () => Db
}

/**
 * PocketBase's hourly `__pbOTPCleanup__` and `__pbMFACleanup__` crons: codes and first factors past
 * their collection's duration can never be used, so they are deleted rather than left to pile up
 * (a flood of `request-otp` or `request-sms-code` calls would otherwise grow `_otps` for ever).
 * `_otps` holds email codes (`otp.duration`) and SMS codes (`phoneAuth.duration`): a row lives for
 * the longer of the two. Defined in the core, so `plinth worker` nodes run them too.
 */
export function defineAuthCleanup(jobs: Jobs, deps: CleanupDeps): void {
  jobs.cron('__pbOTPCleanup__', '0 * * * *', async () => {
    await deleteExpired(deps, OTPS, (c) => Math.max(c.otp.duration, c.phoneAuth.duration))
  })
  jobs.cron('__pbMFACleanup__', '0 * * * *', async () => {
    await deleteExpired(deps, MFAS, (c) => c.mfa.duration)
  })
}

/** Deletes the rows of `table` older than their auth collection's duration; returns how many. */
export async function deleteExpired(deps: CleanupDeps, table: string, seconds: (c: AuthCollection) => number, now = Date.now()): Promise<number> {
  let deleted = 0
  for (const c of deps.registry.all()) {
    if (!isAuthCollection(c)) continue
    const cutoff = toDbDate(new Date(now - seconds(c) * 1000))
    const result = await deps.db().deleteFrom(table).where('collectionRef', '=', c.id).where('created', '<', cutoff).executeTakeFirst()
    deleted += Number(result.numDeletedRows)
  }
  return deleted
}
