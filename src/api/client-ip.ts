import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { PlinthConfig } from '../config/schema.ts'
import { ipAllowList } from './metrics.ts'
import '../auth/request.ts'

/** What the resolver reads of a request: the peer address and the headers. */
interface Peer {
  socket: { remoteAddress?: string | undefined }
  headers: Record<string, string | string[] | undefined>
}

/** `::ffff:1.2.3.4` as `1.2.3.4`, so one client has one form everywhere (limits, logs, lists). */
export function plainIp(ip: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip
}

/** Fastify's `trustProxy` as a function: a peer is a proxy when `trustProxy` names it (`true`: any). */
export function proxyTrust(trustProxy: PlinthConfig['trustProxy']): (address: string) => boolean {
  if (trustProxy === true) return () => true
  if (trustProxy === false) return () => false
  return ipAllowList(trustProxy.split(',').map((s) => s.trim()))
}

/**
 * The client address of a request, the one place Plinth decides it (rate limits, the password
 * throttle, the admin allow-list, the audit log, `@request` info):
 *
 * - the peer's own address, unless the peer is a proxy named by `trustProxy`;
 * - from a trusted proxy, the first of `trustedProxy.headers` that holds an address (PocketBase's
 *   `trustedProxy`): its leftmost address with `useLeftmostIP`, else the rightmost one that is not
 *   itself a listed proxy (the address the outermost proxy of ours saw).
 *
 * NB: a client can write any `X-Forwarded-For` it likes; only the part our proxies appended is
 * true, so the rightmost is the safe default. The leftmost is only right behind a proxy that
 * replaces the header (nginx `proxy_set_header X-Forwarded-For $remote_addr`).
 */
export function clientIpResolver(config: Pick<PlinthConfig, 'trustProxy' | 'trustedProxy'>): (request: Peer) => string {
  const trusted = proxyTrust(config.trustProxy)
  // With `trustProxy: true` every peer is a proxy, but an address inside the header is not.
  const hopIsProxy = typeof config.trustProxy === 'string' ? trusted : () => false
  const headers = config.trustedProxy.headers.map((h) => h.toLowerCase())
  const leftmost = config.trustedProxy.useLeftmostIP
  return (request) => {
    const peer = plainIp(request.socket.remoteAddress ?? '')
    if (!headers.length || !trusted(peer)) return peer
    for (const name of headers) {
      const raw = request.headers[name]
      const value = Array.isArray(raw) ? raw.join(',') : raw
      if (!value) continue
      // Bounded by Node's header size limit (16 KiB in all).
      const ips = value.split(',').map((s) => plainIp(s.trim())).filter((s) => isIP(s) !== 0)
      if (!ips.length) continue
      if (leftmost) return ips[0]!
      for (let i = ips.length - 1; i > 0; i--) if (!hopIsProxy(ips[i]!)) return ips[i]!
      return ips[0]!
    }
    return peer
  }
}

/**
 * Gives every request of `http` its `clientIp` (worked out when read). Returns the function that
 * takes new `trustedProxy` settings (src/settings/); `trustProxy` (which peers are proxies) stays
 * the configuration's.
 */
export function decorateClientIp(http: FastifyInstance, config: Pick<PlinthConfig, 'trustProxy' | 'trustedProxy'>): (trustedProxy: PlinthConfig['trustedProxy']) => void {
  let resolve = clientIpResolver(config)
  http.decorateRequest('clientIp', {
    getter(this: FastifyRequest) {
      return resolve(this.raw)
    },
  })
  return (trustedProxy) => {
    resolve = clientIpResolver({ trustProxy: config.trustProxy, trustedProxy })
  }
}
