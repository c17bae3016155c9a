/**
 * Read replicas (#14): the feed's page of 20 articles (PostgreSQL, signed in, so each request also
 * reads the client's read-your-writes position) served by plinth serve on the primary alone, with
 * one streaming replica and with two (pg_basebackup of the local server, started by the bench as
 * in test/helpers/pg-replica.ts, stopped afterwards). Reads then go round-robin to the replicas.
 * NB: on one 2-core machine the primary, the replicas, Plinth and the load generator share the
 * same cores, so this shows what routing costs, not what extra machines would add.
 */
import { pgReplicaSkip, startPgReplica, sharedPgPrimary, type PgInstance } from '../../test/helpers/pg-replica.ts'
import { seed } from './feed.ts'
import { QUIET } from '../lib/seed.ts'
import { startPlinth } from '../lib/servers.ts'
import type { BenchRequest, RunningServer, Scenario, Target } from '../lib/types.ts'

const list = async (): Promise<BenchRequest> => {
  const s = await seed('postgres')
  return { path: '/api/collections/articles/records?perPage=20&sort=-created', headers: { authorization: s.token } }
}

/** plinth serve on the seeded database with `n` replicas of it (none: the primary alone). */
function withReplicas(n: number): Target {
  return {
    name: n ? `plinth-${n}-replica${n > 1 ? 's' : ''}` : 'plinth-primary',
    notes: n ? `plinth serve, PLINTH_DB_REPLICAS = ${n} local streaming replica${n > 1 ? 's' : ''}` : 'plinth serve on the PostgreSQL primary alone',
    skip: pgReplicaSkip,
    async start(): Promise<RunningServer> {
      const s = await seed('postgres')
      const database = new URL(s.dbUrl).pathname.slice(1)
      const replicas: PgInstance[] = []
      try {
        for (let i = 0; i < n; i++) replicas.push(await startPgReplica(sharedPgPrimary()))
        const server = await startPlinth({ PLINTH_DB: s.dbUrl, ...(n ? { PLINTH_DB_REPLICAS: replicas.map((r) => r.url(database)).join(',') } : {}), ...QUIET })
        return {
          ...server,
          async stop() {
            await server.stop()
            for (const r of replicas) await r.destroy()
          },
        }
      } catch (err) {
        for (const r of replicas) await r.destroy()
        throw err
      }
    },
    request: list,
  }
}

export default {
  name: 'replicas-read',
  description: 'GET 20 of 10,000 articles (signed in), PostgreSQL primary alone vs 1 and 2 streaming replicas',
  reference: 'plinth-primary',
  targets: [withReplicas(0), withReplicas(1), withReplicas(2)],
} satisfies Scenario
