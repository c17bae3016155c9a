/**
 * GET /api/health: what Plinth's HTTP stack costs (request id, metrics hooks, error handling,
 * structured request logs) over a bare Fastify server answering the same body.
 */
import path from 'node:path'
import { ROOT, spawnServer, startPlinth } from '../lib/servers.ts'
import type { Scenario } from '../lib/types.ts'

const health = { path: '/api/health' }

export default {
  name: 'health',
  description: 'GET /api/health: Plinth (plinth serve, SQLite) against bare Fastify',
  reference: 'fastify-bare',
  targets: [
    {
      name: 'fastify-bare',
      notes: 'Fastify, one route, no logger, no hooks',
      start: () => spawnServer({ args: [path.join(ROOT, 'bench/servers/fastify-health.mjs'), '{port}'] }),
      request: () => health,
    },
    {
      name: 'plinth',
      notes: 'plinth serve with its defaults: one JSON log line per request (to /dev/null)',
      start: () => startPlinth(),
      request: () => health,
    },
    {
      name: 'plinth-log-warn',
      notes: 'plinth serve with PLINTH_LOG_LEVEL=warn: no per-request log lines',
      start: () => startPlinth({ PLINTH_LOG_LEVEL: 'warn' }),
      request: () => health,
    },
  ],
} satisfies Scenario
