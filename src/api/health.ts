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
  /** PocketBase's `canBackup`: false while a backup or restore runs on this node. */
  canBackup?: () => boolean
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
 * `/api/ready`: the primary answers, or at least one replica does (reads are served); the
 * instances that do not answer are named in `degraded`. 503, naming them, only when no instance
 * that serves requests answers, so a load balancer takes this node out. Shared services are not readiness checks on purpose: every node uses
 * them, so an outage would take them all out at once, while most requests still work without it (the
 * cache acts as empty; only what needs counters answers 503).
 */
export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (http, { sql, services, canBackup = () => true, draining, timeoutMs = 2000 }) => {
  http.route({
    method: ['GET', 'HEAD'],
    url: '/api/health',
    handler: async (request) => {
      if (!request.auth?.isSuperuser) return { code: 200, message: 'API is healthy.', data: {} }
      // PocketBase's superuser extras. canBackup means "no backup or restore is running now" (on this node).
      const proxyHeader = PROXY_HEADERS.find((h) => request.headers[h.toLowerCase()] !== undefined) ?? ''
      const data: Record<string, unknown> = { canBackup: canBackup(), realIP: request.clientIp, possibleProxyHeader: proxyHeader }
      Object.assign(data, services?.())
      // Plinth: the SQL instances and their roles, reachability and measured lag (the console's System page).
      data.sql = sql.instances().map((m) => ({ engine: m.engine.name, role: m.role, up: m.up, lagMs: Number.isFinite(m.lagMs) ? m.lagMs : null }))
      return { code: 200, message: 'API is healthy.', data }
    },
  })

  http.get('/api/ready', async (request, reply) => {
    if (draining?.()) {
      return reply.code(503).header(ERROR_CODE_HEADER, 'unavailable').send({ status: 503, message: 'Not ready: stopping.', data: {} })
    }
    const checks: Record<string, string> = {}
    // One key per instance: `sql.primary`, `sql.replica`, `sql.replica.2`, ... (several replicas must not share one).
    // A retired instance (an old primary after `db switch-primary`) serves nothing and is not checked.
    const members = sql.instances().filter((m) => m.role !== 'retired')
    const seen = new Map<string, number>()
    const keys = members.map((m) => {
      const n = (seen.get(m.role) ?? 0) + 1
      seen.set(m.role, n)
      return n === 1 ? `sql.${m.role}` : `sql.${m.role}.${n}`
    })
    await Promise.all(
      members.map(async ({ engine }, i) => {
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
    // Ready while the primary answers, or, for reads, any instance that serves reads: one replica
    // (or the DR instance) down must not take a node out of the load balancer. They are named in
    // `degraded` instead, for monitoring.
    const serving = members.some((m, i) => m.role !== 'dr' && checks[keys[i]!] === 'ok')
    if (serving) return { code: 200, message: 'Ready.', data: failed.length ? { checks, degraded: failed } : { checks } }
    return reply.code(503).header(ERROR_CODE_HEADER, 'unavailable').send({
      status: 503,
      message: `Not ready: ${failed.join(', ')} not answering.`,
      data: { checks },
    })
  })
}
