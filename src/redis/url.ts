/**
 * Redis URLs: `redis://[user:pass@]host[:port][/db][?prefix=app:]`, or `rediss://` for TLS.
 *
 * Parsing is ours (not ioredis's) so a malformed URL stops start-up with a message that names it,
 * and so that message never shows the password. NB: log only `maskUrl(url)`, never the URL.
 */
import { maskUrl } from '../config/urls.ts'

/** Everything needed to connect, parsed from one URL. */
export interface RedisTarget {
  host: string
  port: number
  db: number
  username: string | undefined
  password: string | undefined
  tls: boolean
  /**
   * The namespace every Plinth key and channel on this server starts with (`?prefix=`, default
   * `plinth:`), so several deployments can share one Redis without seeing each other's keys.
   */
  prefix: string
}

/** Parses a Redis URL; throws an Error naming the (masked) URL when it is not one. */
export function parseRedisUrl(url: string): RedisTarget {
  const masked = maskUrl(url)
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new Error(`redis: malformed URL ${masked}`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new Error(`redis: the URL must start with redis:// or rediss://, got ${masked}`)
  }
  if (!u.hostname) throw new Error(`redis: no host in ${masked}`)
  const port = u.port ? Number(u.port) : 6379
  const dbText = u.pathname.replace(/^\//, '')
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) {
    throw new Error(`redis: the path must be a database number (/0../15), got /${dbText} in ${masked}`)
  }
  let prefix = 'plinth:'
  for (const [key, value] of u.searchParams) {
    if (key !== 'prefix') throw new Error(`redis: unknown option ?${key}= in ${masked} (known: prefix)`)
    prefix = value
  }
  return {
    // An IPv6 literal comes back from URL in brackets; the socket wants it bare.
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db: dbText === '' ? 0 : Number(dbText),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
    prefix,
  }
}
