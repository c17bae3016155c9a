import { ConfigError } from './errors.ts'

/**
 * The parts of an engine URL such as `aliyun://KEY:SECRET@?sign=S` or `apns://KEY_ID:TEAM_ID@?key=F`
 * (the `sms` and `push` settings). Ours rather than `URL`'s: credentials with no host are refused
 * by WHATWG URL. The scheme must be one of `known`, every query parameter one it lists (none empty),
 * and each listed as required (`true`) present. Messages never show the credentials.
 */
export interface EngineUrl {
  scheme: string
  /** The URL's user and password as written (undefined: no `user:pass@`). */
  rawUser: string | undefined
  rawPass: string | undefined
  host: string
  params: Record<string, string>
}

export function splitEngineUrl(value: string, key: string, known: Record<string, Record<string, boolean>>): EngineUrl {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(?:([^:@/?#]*):([^@/?#]*)@)?([^/?#@]*)\/?(?:\?([^#]*))?$/i.exec(value)
  const scheme = (m?.[1] ?? /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1])?.toLowerCase()
  if (!scheme || !(scheme in known)) {
    throw new ConfigError(`config: ${key}: unsupported scheme "${scheme ?? '(none)'}" (expected ${Object.keys(known).map((s) => `${s}://`).join(', ')})`)
  }
  if (!m) throw new ConfigError(`config: ${key}: malformed ${scheme}:// URL`)
  const [, , rawUser, rawPass, host = '', query] = m
  const allowed = known[scheme]!
  const params: Record<string, string> = {}
  for (const [name, v] of new URLSearchParams(query ?? '')) {
    if (!(name in allowed)) {
      const names = Object.keys(allowed)
      throw new ConfigError(`config: ${key}: unknown parameter "${name}" for ${scheme}://${names.length ? ` (expected ${names.join(', ')})` : ' (it takes none)'}`)
    }
    if (!v) throw new ConfigError(`config: ${key}: ${name}= is empty`)
    params[name] = v
  }
  for (const [name, required] of Object.entries(allowed)) {
    if (required && !params[name]) throw new ConfigError(`config: ${key}: ${scheme}:// needs ${name}=`)
  }
  return { scheme, rawUser, rawPass, host, params }
}

/** The URL-decoded user and password ('' when absent). */
export function engineCredentials(url: EngineUrl, key: string): { user: string; pass: string } {
  try {
    return { user: decodeURIComponent(url.rawUser ?? ''), pass: decodeURIComponent(url.rawPass ?? '') }
  } catch {
    throw new ConfigError(`config: ${key}: the credentials are not valid URL encoding`)
  }
}

/** An http(s) base URL without a trailing slash (`httpsOnly`: only https:// is accepted). */
export function engineEndpoint(value: string, key: string, httpsOnly = false): string {
  let u: URL
  try {
    u = new URL(value)
  } catch {
    throw new ConfigError(`config: ${key}: endpoint "${value}" is not a URL`)
  }
  if (u.protocol !== 'https:' && (httpsOnly || u.protocol !== 'http:')) throw new ConfigError(`config: ${key}: endpoint must be ${httpsOnly ? 'https://' : 'http:// or https://'}`)
  if (u.username || u.password || u.search || u.hash) throw new ConfigError(`config: ${key}: endpoint takes no credentials, query or fragment`)
  return u.toString().replace(/\/+$/, '')
}
