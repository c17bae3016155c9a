/**
 * Many nodes (#18): the feed's page of 20 articles (PostgreSQL, signed in) from one plinth serve
 * alone, from one node behind the nginx config `plinth deploy nginx` writes, and from three nodes
 * behind it (one database). NB: on one 2-core machine nginx, the nodes, PostgreSQL and the load
 * generator share the same cores, so three nodes cannot show what three machines would add; the
 * figures say what the proxy costs and that more nodes do not cost throughput.
 */
import { defaults } from '../../src/config/schema.ts'
import { nginxSkip } from '../../test/helpers/nginx.ts'
import { startNginxCluster } from '../../test/helpers/nginx-cluster.ts'
import { seed } from './feed.ts'
import { QUIET } from '../lib/seed.ts'
import { startPlinth } from '../lib/servers.ts'
import type { BenchRequest, RunningServer, Scenario, Target } from '../lib/types.ts'

const list = async (): Promise<BenchRequest> => {
  const s = await seed('postgres')
  return { path: '/api/collections/articles/records?perPage=20&sort=-created', headers: { authorization: s.token } }
}

/** `n` plinth serve nodes on the seeded database, behind nginx unless `direct`. */
function nodes(n: number, direct = false): Target {
  return {
    name: direct ? 'plinth-direct' : `nginx-${n}-node${n > 1 ? 's' : ''}`,
    notes: direct ? 'one plinth serve, no proxy' : `${n} plinth serve behind nginx (plinth deploy nginx's config, keep-alive to the nodes)`,
    skip: async () => (direct ? undefined : nginxSkip()),
    async start(): Promise<RunningServer> {
      const s = await seed('postgres')
      const servers: RunningServer[] = []
      try {
        for (let i = 0; i < n; i++) servers.push(await startPlinth({ PLINTH_DB: s.dbUrl, ...QUIET }))
        if (direct) return servers[0]!
        const edge = await startNginxCluster(
          servers.map((x) => ({ host: '127.0.0.1', port: Number(new URL(x.url).port) })),
          defaults('.'),
        )
        return {
          url: edge.url,
          async stop() {
            await edge.stop()
            for (const x of servers) await x.stop()
          },
        }
      } catch (err) {
        for (const x of servers) await x.stop()
        throw err
      }
    },
    request: list,
  }
}

export default {
  name: 'cluster-nginx',
  description: 'GET 20 of 10,000 articles (signed in, PostgreSQL): one node direct vs one and three nodes behind nginx',
  reference: 'plinth-direct',
  targets: [nodes(1, true), nodes(1), nodes(3)],
} satisfies Scenario
