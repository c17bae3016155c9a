import { StartupError } from './errors.ts'

/** Where to listen, from the `http` setting (`HOST:PORT`, `[V6]:PORT` or `:PORT`). */
export interface ListenTarget {
  /** What to bind; `::` for every interface (IPv6 and IPv4 where the system is dual-stack). */
  host: string
  port: number
  /** Bound to every interface (`:PORT`, `0.0.0.0`, `::`). */
  wildcard: boolean
}

/**
 * `:8091` means every interface, as Go's `net.Listen` (and so PocketBase's `--http`) reads it;
 * PocketBase's default and ours stay `127.0.0.1:8090`, so nothing is exposed unless asked for.
 */
export function listenTarget(http: string): ListenTarget {
  const [, rawHost = '', port = '8090'] = /^\[?(.*?)\]?:(\d+)$/.exec(http) ?? []
  const wildcard = rawHost === '' || rawHost === '0.0.0.0' || rawHost === '::'
  return { host: rawHost === '' ? '::' : rawHost, port: Number(port), wildcard }
}

/** A URL a person can open: a wildcard address is reached at 127.0.0.1, never `http://:8091`. */
export function usableUrl(t: ListenTarget): string {
  const host = t.wildcard ? '127.0.0.1' : t.host.includes(':') ? `[${t.host}]` : t.host
  return `http://${host}:${t.port}`
}

/** A listen failure as one line naming the address and what to do, for the errors an operator can fix. */
export function listenError(err: unknown, http: string): unknown {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new StartupError(`http: address ${http} is already in use by another process; stop it or choose another with --http HOST:PORT (PLINTH_HTTP)`)
    case 'EACCES':
      return new StartupError(`http: no permission to listen on ${http} (ports below 1024 need privileges); choose a port from 1024 up`)
    case 'EADDRNOTAVAIL':
      return new StartupError(`http: ${http} is not an address of this machine`)
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError(`http: cannot resolve the host of ${http}`)
    default:
      return err
  }
}
