import type { FastifyPluginAsync } from 'fastify'
import type { SqlRouter } from '../sql/router.ts'
import { ERROR_CODE_HEADER } from '../errors.ts'
import '../auth/request.ts'

export interface HealthOptions {
  sql: SqlRouter
  /**
   * The state of each shared service the ports use, by name (`{name: 'ok' | 'unreachable'}`; empty
   * when every port is in-process). Read from connection state, no round trip: cheap enough for
   * every health call.
   */
  services?: () => Record<string, 'ok' | 'unreachable'>
  /** True while the node drains before a stop: `/api/ready` answers 503 so balancers move on. */
  draining?: () => boolean
  /** How long `/api/ready` waits for each engine. */
  timeoutMs?: number
}

/** Headers that suggest a reverse proxy in front (PocketBase's list), named in its casing. */
const PROXY_HEADERS = ['CF-Connecting-IP', 'Fly-Client-IP', 'X-Forwarded-For']

/** A promise that rejects after `ms`, so one hung engine cannot hang the readiness probe. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/**
 * `/api/health`: the process is up (PocketBase's shape; superusers also get `canBackup`,
 * `realIP`, `possibleProxyHeader`, and each shared service's state, e.g. `"redis": "ok"`).
 * `/api/ready`: every SQL engine answers; 503 names the ones that do not, so a load balancer
 * takes this node out. Shared services are not readiness checks on purpose: every node uses
 * them, so an outage would take them all out at once, while most requests still work without it (the
 * cache acts as empty; only what needs counters answers 503).
 */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (http, { sql, services, draining, timeoutMs = 2000 }) => {
  http.route({
    method: ['GET', 'HEAD'],
    url: '/api/health',
    handler: async (request) => {
      if (!request.auth?.isSuperuser) return { code: 200, message: 'API is healthy.', data: {} }
      // PocketBase's superuser extras. canBackup means "no backup or restore is running now":
      // Plinth runs none through the API (backups are the `plinth backup` command, outside this
      // process), so nothing here can be in progress and the answer is true.
      const proxyHeader = PROXY_HEADERS.find((h) => request.headers[h.toLowerCase()] !== undefined) ?? ''
      const data: Record<string, unknown> = { canBackup: true, realIP: request.clientIp, possibleProxyHeader: proxyHeader }
      Object.assign(data, services?.())
      return { code: 200, message: 'API is healthy.', data }
    },
  })

  http.get('/api/ready', async (request, reply) => {
    if (draining?.()) {
      return reply.code(503).header(ERROR_CODE_HEADER, 'unavailable').send({ status: 503, message: 'Not ready: stopping.', data: {} })
    }
    const checks: Record<string, string> = {}
    // One key per instance: `sql.primary`, `sql.replica`, `sql.replica.2`, ... (several replicas must not share one).
    const seen = new Map<string, number>()
    const keys = sql.engines().map((e) => {
      const n = (seen.get(e.role) ?? 0) + 1
      seen.set(e.role, n)
      return n === 1 ? `sql.${e.role}` : `sql.${e.role}.${n}`
    })
    await Promise.all(
      sql.engines().map(async (engine, i) => {
        const key = keys[i]!
        try {
          await withTimeout(engine.ping(), timeoutMs)
          checks[key] = 'ok'
        } catch (err) {
          request.log.warn({ err, engine: engine.name, role: engine.role }, 'readiness check failed')
          checks[key] = `${engine.name}: ${(err as Error).message.includes('no answer') ? 'timeout' : 'unreachable'}`
        }
      }),
    )
    const failed = Object.entries(checks).filter(([, v]) => v !== 'ok').map(([k]) => k)
    if (failed.length === 0) return { code: 200, message: 'Ready.', data: { checks } }
    return reply.code(503).header(ERROR_CODE_HEADER, 'unavailable').send({
      status: 503,
      message: `Not ready: ${failed.join(', ')} not answering.`,
      data: { checks },
    })
  })
}
