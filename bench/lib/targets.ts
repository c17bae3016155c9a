/**
 * The usual pair of targets for a records scenario: bare Fastify running the same SQL with the
 * driver directly (a script in bench/servers/), and `plinth serve`, both on a database seeded
 * once per engine.
 */
import path from 'node:path'
import { ENGINE_DRIVER, ENGINE_LABEL, QUIET, unavailable, type Engine } from './seed.ts'
import { ROOT, spawnServer, startPlinth } from './servers.ts'
import type { BenchRequest, Target } from './types.ts'

export interface PairOptions<S> {
  engine: Engine
  seed: (engine: Engine) => Promise<S & { dbUrl: string }>
  /** The reference script in bench/servers/, and its arguments after ENGINE DB_URL (PORT comes last). */
  server: string
  args: (seed: S) => string[]
  /** What the reference does, for the notes. */
  does: string
  request: (seed: S) => BenchRequest
}

export function bareAndPlinth<S>(o: PairOptions<S>): Target[] {
  return [
    {
      name: 'fastify-bare',
      notes: `Fastify + ${ENGINE_DRIVER[o.engine]} directly: ${o.does}; no token check, no logging`,
      skip: () => unavailable(o.engine),
      start: async () => {
        const s = await o.seed(o.engine)
        return spawnServer({ args: [path.join(ROOT, 'bench/servers', o.server), o.engine, s.dbUrl, ...o.args(s), '{port}'] })
      },
      request: async () => o.request(await o.seed(o.engine)),
    },
    {
      name: 'plinth',
      notes: `plinth serve on ${ENGINE_LABEL[o.engine]}, PLINTH_LOG_LEVEL=warn (no per-request log lines; see the health scenario for their cost)`,
      skip: () => unavailable(o.engine),
      start: async () => startPlinth({ PLINTH_DB: (await o.seed(o.engine)).dbUrl, ...QUIET }),
      request: async () => o.request(await o.seed(o.engine)),
    },
  ]
}
