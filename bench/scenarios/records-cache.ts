/**
 * The records cache (#14): the records-view-postgres request (a signed-in view by id under an
 * owner rule, PostgreSQL) on `plinth serve` reading SQL every time, against the same server with
 * `cacheRecords` on: cache and counters in process, then on Redis (a generation read and a cache
 * read per request, both round trips to Redis). The same seeded database; only reads, so every
 * request after the first is a hit.
 * NB: PostgreSQL, Redis, Plinth and the load generator share this machine's 2 cores.
 */
import { redisSkip, REDIS_TEST_URL, testPrefix } from '../../test/helpers/redis.ts'
import { QUIET, unavailable } from '../lib/seed.ts'
import { startPlinth } from '../lib/servers.ts'
import type { Scenario, Target } from '../lib/types.ts'
import { seed } from './records.ts'

const view = async () => {
  const s = await seed('postgres')
  return { path: `/api/collections/posts/records/${s.postId}`, headers: { authorization: s.token } }
}

function plinth(name: string, notes: string, env: () => Record<string, string>, skip?: () => Promise<string | undefined>): Target {
  return {
    name,
    notes,
    skip: async () => (await unavailable('postgres')) ?? (await skip?.()),
    start: async () => startPlinth({ PLINTH_DB: (await seed('postgres')).dbUrl, PLINTH_RATE_LIMITS_ENABLED: 'false', ...QUIET, ...env() }),
    request: view,
  }
}

export default {
  name: 'records-cache-view-postgres',
  group: 'records-cache',
  description: 'GET one record by id as its owner (PostgreSQL): from SQL, then from the records cache (in process, on Redis)',
  reference: 'plinth-sql',
  targets: [
    plinth('plinth-sql', 'plinth serve, cacheRecords off: every view reads PostgreSQL', () => ({})),
    plinth('plinth-cache-memory', 'plinth serve, PLINTH_CACHE_RECORDS=true, cache and counters in process', () => ({ PLINTH_CACHE_RECORDS: 'true' })),
    plinth(
      'plinth-cache-redis',
      'plinth serve, PLINTH_CACHE_RECORDS=true, cache and counters on Redis (generation + entry: two round trips)',
      () => {
        const url = new URL(REDIS_TEST_URL)
        url.searchParams.set('prefix', testPrefix())
        return { PLINTH_CACHE_RECORDS: 'true', PLINTH_REDIS: url.toString() }
      },
      async () => (await redisSkip()) || undefined,
    ),
  ],
} satisfies Scenario
