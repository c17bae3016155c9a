/**
 * What rate limits cost on the hot path: the records-view-sqlite request (a signed-in view by id
 * under an owner rule) on `plinth serve` with rate limits off, against the same server with the
 * default rules on (counters in process, then on Redis). The default rules' `maxRequests` are
 * raised so the load generator (one user, one address) is never refused: each request still finds
 * its rule and increments its counter, which is the whole cost.
 */
import { DEFAULT_RATE_LIMIT_RULES } from '../../src/config/schema.ts'
import { redisSkip, REDIS_TEST_URL, testPrefix } from '../../test/helpers/redis.ts'
import { QUIET } from '../lib/seed.ts'
import { startPlinth } from '../lib/servers.ts'
import type { Scenario, Target } from '../lib/types.ts'
import { seed } from './records.ts'

const view = async () => {
  const s = await seed('sqlite')
  return { path: `/api/collections/posts/records/${s.postId}`, headers: { authorization: s.token } }
}
const unrefused = { rateLimits: { enabled: true, rules: DEFAULT_RATE_LIMIT_RULES.map((r) => ({ ...r, maxRequests: 1_000_000_000 })) } }

function plinth(name: string, notes: string, env: () => Record<string, string>, config?: object, skip?: () => Promise<string | undefined>): Target {
  return {
    name,
    notes,
    skip,
    start: async () => startPlinth({ PLINTH_DB: (await seed('sqlite')).dbUrl, ...QUIET, ...env() }, config),
    request: view,
  }
}

export default {
  name: 'limits-view-sqlite',
  description: 'GET one record by id as its owner (SQLite): rate limits off, then the default rules on (memory counters, Redis counters)',
  reference: 'plinth-limits-off',
  targets: [
    plinth('plinth-limits-off', 'plinth serve, PLINTH_RATE_LIMITS_ENABLED=false', () => ({ PLINTH_RATE_LIMITS_ENABLED: 'false' })),
    plinth('plinth-limits-on', 'plinth serve, the default rules (maxRequests raised), counters in process', () => ({}), unrefused),
    plinth(
      'plinth-limits-on-redis',
      'plinth serve, the default rules (maxRequests raised), counters on Redis (one round trip per request)',
      () => {
        const url = new URL(REDIS_TEST_URL)
        url.searchParams.set('prefix', testPrefix())
        return { PLINTH_COUNTERS: url.toString() }
      },
      unrefused,
      async () => (await redisSkip()) || undefined,
    ),
  ],
} satisfies Scenario
