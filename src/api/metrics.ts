import { BlockList, isIP } from 'node:net'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import type { Metrics } from '../metrics.ts'

export interface MetricsOptions {
  metrics: Metrics
  /** IPs and CIDRs that may read metrics without a token. */
  allow: readonly string[]
  /** Whether the request carries a superuser's credentials (wired by the auth feature). */
  isSuperuser?: (request: FastifyRequest) => Promise<boolean>
}

/** Builds a matcher for a list of IPs and CIDRs (IPv4 and IPv6). Throws on an entry that is neither. */
export function ipAllowList(entries: readonly string[]): (ip: string) => boolean {
  const list = new BlockList()
  for (const entry of entries) {
    const [addr, bits] = entry.split('/')
    const family = isIP(addr ?? '')
    if (!family || (bits !== undefined && !/^\d+$/.test(bits))) throw new Error(`metrics.allow: "${entry}" is not an IP or CIDR`)
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(addr!, type)
    else list.addSubnet(addr!, Number(bits), type)
  }
  return (ip) => {
    const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1]
    const addr = v4mapped ?? ip
    const family = isIP(addr)
    return family !== 0 && list.check(addr, family === 6 ? 'ipv6' : 'ipv4')
  }
}

/**
 * `GET /api/metrics` in Prometheus text format. Never public: only allow-listed IPs or a
 * superuser may read it; everyone else gets 403 (401 when no credentials were sent).
 */
export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (http, opts) => {
  const allowed = ipAllowList(opts.allow)
  const isSuperuser = opts.isSuperuser ?? (async () => false)

  http.get('/api/metrics', async (request, reply) => {
    if (!allowed(request.clientIp) && !(await isSuperuser(request))) {
      throw new ApiError(request.headers.authorization ? 'forbidden' : 'unauthorized', 'Metrics are for superusers and allow-listed IPs only.')
    }
    const body = await opts.metrics.registry.metrics()
    return reply.type(opts.metrics.registry.contentType).send(body)
  })
}
