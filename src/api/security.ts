import helmet from '@fastify/helmet'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { PlinthConfig } from '../config/schema.ts'
import type { Counters } from '../counters/counters.ts'
import { ApiError } from '../errors.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { AuditLog } from './audit.ts'
import { decorateClientIp } from './client-ip.ts'
import { ipAllowList } from './metrics.ts'
import { RateLimited, RateLimiter } from './rate-limits.ts'
import type { SettingsStore } from '../settings/settings-store.ts'
import '../auth/request.ts'

export interface SecurityOptions {
  config: Readonly<PlinthConfig>
  counters: Counters
  registry: CollectionRegistry
  audit: AuditLog
  /** Whether this server itself speaks TLS (HSTS is sent then, or when `publicUrl` is https). */
  tls: boolean
  /** The settings (src/settings/): rate limits and the trusted proxy headers follow their changes. */
  settings?: Pick<SettingsStore, 'onChange'>
}

/** Route patterns (and paths) only superusers use: the admin allow-list guards these. */
const adminRoute = /^\/(_(\/|$)|api\/(collections(\/:collection|\/import|\/meta\/[^/]+)?(\/truncate)?$|jobs|crons|plinth\/audit|logs|settings|backups))/
const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const SUPERUSERS = '_superusers'

/**
 * The transport and request guards, on the root instance (call after the auth hook, so
 * `request.auth` is known): `request.clientIp`, security headers, the admin allow-list, rate
 * limits, and the audit of superuser actions and failed superuser sign-ins.
 * Returns the limiter, for the batch route to count each request inside a batch, and `reload`.
 */
export async function installSecurity(http: FastifyInstance, opts: SecurityOptions): Promise<Security> {
  const { config, counters, audit } = opts
  const setTrustedProxy = decorateClientIp(http, config)
  // Helmet's headers; its CSP and cross-origin policies are for pages, and this is an API whose
  // JSON is read cross-origin (CORS), so those stay off. HSTS only where the client reached us over TLS.
  const hsts = config.hstsMaxAge > 0 && (opts.tls || config.publicUrl.startsWith('https://'))
  await http.register(helmet, {
    contentSecurityPolicy: false,
    crossOriginEmbedderPolicy: false,
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    hsts: hsts ? { maxAge: config.hstsMaxAge, includeSubDomains: true } : false,
  })

  // Both may change on a SIGHUP reload (`reload` below), so their hooks are always installed.
  let adminAllowed = config.adminAllow.length ? ipAllowList(config.adminAllow) : undefined
  // Always made (it counts nothing while disabled): the settings may turn it on at any time.
  const limiter = new RateLimiter(counters, opts.registry, config.rateLimits)
  opts.settings?.onChange((s) => {
    limiter.reconfigure({ enabled: s.rateLimits.enabled, rules: s.rateLimits.rules, excludedIPs: config.rateLimits.excludedIPs })
    setTrustedProxy(s.trustedProxy)
  })
  const isSuperuserPath = (request: FastifyRequest): boolean => {
    const c = (request.params as { collection?: string } | undefined)?.collection
    return c !== undefined && opts.registry.get(c)?.name === SUPERUSERS
  }

  {
    http.addHook('onRequest', async (request) => {
      if (!adminAllowed) return
      const pattern = request.routeOptions.url ?? request.url
      if (!(request.auth?.isSuperuser || adminRoute.test(pattern) || isSuperuserPath(request))) return
      const ip = request.clientIp
      if (adminAllowed(ip)) return
      // Recorded once per address per minute: a flood of refusals must not flood the table.
      audit.recordOnce(request, `ip_refused:${ip}`, { action: 'admin.ip_refused', status: 403 })
      throw new ApiError('forbidden', 'Superuser routes are not reachable from this address.')
    })
  }
  http.addHook('onRequest', async (request) => {
    if (!limiter.enabled) return
    await limiter.check(request).catch((err: unknown) => {
      if (err instanceof RateLimited && err.first) audit.record(request, { action: 'rate_limit.exceeded', status: 429 })
      throw err
    })
  })

  http.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode
    const pattern = request.routeOptions.url
    if (pattern === '/api/collections/:collection/auth-with-password' && isSuperuserPath(request)) {
      // A 429 is the throttle's or a rate limit's answer, recorded (once) by them, not per request.
      if (status !== 429) audit.record(request, { action: status < 400 ? 'superuser.login' : 'superuser.login_failed', status })
    } else if (request.auth?.isSuperuser && writeMethods.has(request.method)) {
      audit.record(request, { action: 'superuser.request', status, data: pattern ? { route: pattern } : {} })
    }
    done()
  })
  return {
    limiter,
    reload(next) {
      adminAllowed = next.adminAllow.length ? ipAllowList(next.adminAllow) : undefined
      limiter.reconfigure(next.rateLimits)
    },
  }
}

/** What `installSecurity` leaves for the rest of the app. */
export interface Security {
  /** Counts each request inside `/api/batch` too. */
  limiter: RateLimiter
  /** Applies a reloaded config's `adminAllow` and `rateLimits` (SIGHUP). */
  reload(next: Readonly<PlinthConfig>): void
}
