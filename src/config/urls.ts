import path from 'node:path'
import { ConfigError } from './errors.ts'
import { parseAddress, type MailAddress } from '../mail/mail.ts'

export type SqlEngineName = 'sqlite' | 'postgres' | 'mysql'

export interface SqliteTarget {
  engine: 'sqlite'
  /** An absolute file path, or `:memory:`. */
  file: string
}
export interface ServerTarget {
  engine: 'postgres' | 'mysql'
  /** The URL as given; the driver parses it. */
  url: string
  database: string
}
export type DbTarget = SqliteTarget | ServerTarget

/**
 * Parses a SQL URL and picks its engine by scheme: `sqlite://PATH` (relative paths resolve
 * against `cwd`), `postgres://` / `postgresql://`, `mysql://` / `mariadb://`.
 */
export function parseDbUrl(value: string, key: string, cwd = process.cwd()): DbTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
  if (scheme === 'sqlite') {
    const rest = value.slice('sqlite:'.length).replace(/^\/\//, '')
    if (!rest) throw new ConfigError(`config: ${key}: sqlite URL needs a path, like sqlite://./plinth_data/data.db`)
    return { engine: 'sqlite', file: rest === ':memory:' ? rest : path.resolve(cwd, rest) }
  }
  if (scheme === 'postgres' || scheme === 'postgresql' || scheme === 'mysql' || scheme === 'mariadb') {
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw new ConfigError(`config: ${key}: malformed URL "${maskUrl(value)}"`)
    }
    const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
    if (!url.hostname) throw new ConfigError(`config: ${key}: URL needs a host`)
    if (!database) throw new ConfigError(`config: ${key}: URL needs a database name after the host`)
    const engine = scheme.startsWith('postgres') ? 'postgres' : 'mysql'
    // mysql2 only knows the mysql: scheme.
    return { engine, url: scheme === 'mariadb' ? value.replace(/^mariadb:/i, 'mysql:') : value, database }
  }
  throw new ConfigError(
    `config: ${key}: unsupported scheme "${scheme ?? value}" (expected sqlite://, postgres:// or mysql://)`,
  )
}

export interface LogMailTarget {
  engine: 'log'
  from?: MailAddress
}
export interface SmtpMailTarget {
  engine: 'smtp'
  host: string
  port: number
  /** TLS from the first byte (`smtps://`); otherwise STARTTLS when offered. */
  secure: boolean
  requireTLS: boolean
  user?: string
  pass?: string
  from?: MailAddress
}
export type MailTarget = LogMailTarget | SmtpMailTarget

/**
 * Parses the `mail` URL: `log://` (mails written to the log, the default), or
 * `smtp://USER:PASS@HOST:PORT?from=...` / `smtps://...` (`from` may be `Name <a@b>`, URL-encoded;
 * `requireTLS=true` refuses to send without STARTTLS).
 */
export function parseMailUrl(value: string, key: string): MailTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
  if (scheme !== 'log' && scheme !== 'smtp' && scheme !== 'smtps') {
    throw new ConfigError(`config: ${key}: unsupported scheme "${scheme ?? value}" (expected log://, smtp:// or smtps://)`)
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`config: ${key}: malformed URL "${maskUrl(value)}"`)
  }
  for (const name of url.searchParams.keys()) {
    if (name !== 'from' && name !== 'requireTLS') throw new ConfigError(`config: ${key}: unknown parameter "${name}" (expected from, requireTLS)`)
  }
  const fromText = url.searchParams.get('from')
  const from = fromText === null ? undefined : parseAddress(fromText)
  if (fromText !== null && !from) throw new ConfigError(`config: ${key}: from= is not an email address`)
  if (scheme === 'log') return from ? { engine: 'log', from } : { engine: 'log' }
  if (!url.hostname) throw new ConfigError(`config: ${key}: URL needs a host`)
  const secure = scheme === 'smtps'
  const requireTLS = url.searchParams.get('requireTLS')
  if (requireTLS !== null && requireTLS !== 'true' && requireTLS !== 'false') {
    throw new ConfigError(`config: ${key}: requireTLS must be true or false`)
  }
  const target: SmtpMailTarget = {
    engine: 'smtp',
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    requireTLS: requireTLS === 'true',
  }
  if (url.username) target.user = decodeURIComponent(url.username)
  if (url.password) target.pass = decodeURIComponent(url.password)
  if (from) target.from = from
  return target
}

/** Replaces the password (and secret-looking query values) of a URL with `****`. */
export function maskUrl(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value
  return value
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):([^@]*)@/i, '$1:****@')
    .replace(/([?&](?:password|secret|token|key)=)[^&]*/gi, '$1****')
}
