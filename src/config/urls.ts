import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ConfigError } from './errors.ts'

// The `sms` URL has a parser of its own (one grammar per provider); exported here beside the others.
export { parseSmsUrl, type SmsTarget } from './sms-url.ts'

/** A mail address as the `?from=` of a mail URL gives it (the mail port uses the same type). */
export interface MailAddress {
  address: string
  name?: string
}

/** `"Name <a@b>"` or `a@b` -> an address; undefined when it does not look like one. */
export function parseAddress(value: string): MailAddress | undefined {
  const m = /^\s*(?:"?([^"<]*?)"?\s*<([^<>\s]+@[^<>\s]+)>|([^<>\s]+@[^<>\s]+))\s*$/.exec(value)
  if (!m) return undefined
  const address = (m[2] ?? m[3])!
  const name = m[1]?.trim()
  return name ? { address, name } : { address }
}

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

/**
 * The `db` URL with a SQLite path made absolute against `cwd` (server URLs unchanged), after
 * validating it: the loaded config then names one file whatever the process's directory.
 */
export function absoluteDbUrl(value: string, key: string, cwd: string): string {
  const target = parseDbUrl(value, key, cwd)
  return target.engine === 'sqlite' && target.file !== ':memory:' ? `sqlite://${target.file}` : value
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
  /** SMTP AUTH mechanism (the settings' `smtp.authMethod`); the client's default (PLAIN) when absent. */
  authMethod?: 'PLAIN' | 'LOGIN'
  /** The name said in EHLO/HELO (the settings' `smtp.localName`); the client's default when absent. */
  localName?: string
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

/** Everything needed to connect to Redis, parsed from one URL. */
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

/**
 * Parses a Redis URL: `redis://[user:pass@]host[:port][/db][?prefix=app:]`, or `rediss://` for
 * TLS. Ours (not ioredis's) so a malformed URL stops start-up with a ConfigError that names the
 * key and never shows the password. NB: log only `maskUrl(url)`, never the URL.
 */
export function parseRedisUrl(url: string, key = 'redis'): RedisTarget {
  const masked = maskUrl(url)
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new ConfigError(`config: ${key}: malformed URL ${masked}`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConfigError(`config: ${key}: the URL must start with redis:// or rediss://, got ${masked}`)
  }
  if (!u.hostname) throw new ConfigError(`config: ${key}: no host in ${masked}`)
  const dbText = u.pathname.replace(/^\//, '')
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) {
    throw new ConfigError(`config: ${key}: the path must be a database number (/0../15), got /${dbText} in ${masked}`)
  }
  let prefix = 'plinth:'
  for (const [name, value] of u.searchParams) {
    if (name !== 'prefix') throw new ConfigError(`config: ${key}: unknown option ?${name}= in ${masked} (known: prefix)`)
    prefix = value
  }
  return {
    // An IPv6 literal comes back from URL in brackets; the socket wants it bare.
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 6379,
    db: dbText === '' ? 0 : Number(dbText),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
    prefix,
  }
}

/** A shared-state port (cache, counters, bus) in this process. */
export interface MemoryTarget<P extends string> {
  engine: 'memory'
  /** The whole-number parameters given in the URL (`memory://?maxBytes=1048576`). */
  params: Partial<Record<P, number>>
}
/** A shared-state port on Redis: the URL as given (the engine opens it) and what it says. */
export interface RedisStateTarget {
  engine: 'redis'
  url: string
  redis: RedisTarget
}
/** What the `cache`, `counters` and `bus` URLs name: an engine and its settings. */
export type CacheTarget = MemoryTarget<'maxBytes'> | RedisStateTarget
export type CountersTarget = MemoryTarget<'maxKeys' | 'maxNonces'> | RedisStateTarget
export type BusTarget = MemoryTarget<never> | RedisStateTarget

/**
 * Parses the URL of a shared-state port: `memory://` (in this process, with the whole-number
 * parameters `params` names), or `redis://` / `rediss://` (see parseRedisUrl).
 */
function parseStateUrl<P extends string>(value: string, key: string, params: readonly P[]): MemoryTarget<P> | RedisStateTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
  if (scheme === 'redis' || scheme === 'rediss') return { engine: 'redis', url: value, redis: parseRedisUrl(value, key) }
  if (scheme !== 'memory') {
    throw new ConfigError(`config: ${key}: unsupported scheme "${scheme ?? maskUrl(value)}" (expected memory:// or redis://)`)
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`config: ${key}: malformed URL "${maskUrl(value)}"`)
  }
  if (url.host || (url.pathname !== '' && url.pathname !== '/')) throw new ConfigError(`config: ${key}: memory:// takes no host or path, got "${value}"`)
  const out: Partial<Record<P, number>> = {}
  for (const [name, text] of url.searchParams) {
    if (!(params as readonly string[]).includes(name)) {
      throw new ConfigError(`config: ${key}: unknown parameter "${name}"${params.length ? ` (expected ${params.join(', ')})` : ' (memory:// takes none)'}`)
    }
    if (!/^[1-9]\d{0,14}$/.test(text)) throw new ConfigError(`config: ${key}: ${name} must be a whole number above 0, got "${text}"`)
    out[name as P] = Number(text)
  }
  return { engine: 'memory', params: out }
}

/** The `cache` URL: `memory://` (`?maxBytes=N`, default 64 MiB) or `redis://...`. */
export function parseCacheUrl(value: string, key = 'cache'): CacheTarget {
  return parseStateUrl(value, key, ['maxBytes'] as const)
}

/** The `counters` URL: `memory://` (`?maxKeys=N`, default 100 000; `maxNonces=N`, default 1 000 000) or `redis://...`. */
export function parseCountersUrl(value: string, key = 'counters'): CountersTarget {
  return parseStateUrl(value, key, ['maxKeys', 'maxNonces'] as const)
}

/** The `bus` URL: `memory://` or `redis://...`. */
export function parseBusUrl(value: string, key = 'bus'): BusTarget {
  return parseStateUrl(value, key, [] as never[])
}

/** Replaces the password (and secret-looking query values) of a URL with `****`. */
export function maskUrl(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value
  return value
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):([^@]*)@/i, '$1:****@')
    .replace(/([?&][a-z]*(?:password|secret|token|key)=)[^&]*/gi, '$1****')
}

/** The job queue in the SQL database (`sql://`). */
export interface SqlQueueTarget {
  engine: 'sql'
  leaseMs: number
  pollMs: number
}
/** The job queue on Redis, through BullMQ (`redis://...`); `url` has the queue's own parameters removed. */
export interface BullQueueTarget {
  engine: 'bullmq'
  url: string
  redis: RedisTarget
  leaseMs: number
}
export type QueueTarget = SqlQueueTarget | BullQueueTarget

/**
 * The `queue` URL: `sql://` (a table in the `db` database; `?leaseMs=N&pollMs=N`) or
 * `redis://...` / `rediss://...` (BullMQ; `?leaseMs=N` beside the Redis URL's own `prefix`).
 */
export function parseQueueUrl(value: string, key = 'queue'): QueueTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
  if (scheme !== 'sql' && scheme !== 'redis' && scheme !== 'rediss') {
    throw new ConfigError(`config: ${key}: unsupported scheme "${scheme ?? maskUrl(value)}" (expected sql:// or redis://)`)
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`config: ${key}: malformed URL "${maskUrl(value)}"`)
  }
  const whole = (name: string, fallback: number): number => {
    const text = url.searchParams.get(name)
    url.searchParams.delete(name)
    if (text === null) return fallback
    if (!/^[1-9]\d{0,9}$/.test(text)) throw new ConfigError(`config: ${key}: ${name} must be a whole number above 0, got "${text}"`)
    return Number(text)
  }
  const leaseMs = whole('leaseMs', 30_000)
  if (scheme === 'sql') {
    const pollMs = whole('pollMs', 1000)
    if (url.host || (url.pathname !== '' && url.pathname !== '/')) throw new ConfigError(`config: ${key}: sql:// takes no host or path, got "${maskUrl(value)}"`)
    const unknown = [...url.searchParams.keys()][0]
    if (unknown !== undefined) throw new ConfigError(`config: ${key}: unknown parameter "${unknown}" (expected leaseMs, pollMs)`)
    return { engine: 'sql', leaseMs, pollMs }
  }
  const rest = url.toString()
  return { engine: 'bullmq', url: rest, redis: parseRedisUrl(rest, key), leaseMs }
}

/** Files in a local folder (`file://PATH`). */
export interface LocalFilesTarget {
  engine: 'local'
  /** The folder, absolute. */
  dir: string
}
/**
 * Files in an S3-compatible bucket (`s3://BUCKET?...`): AWS S3, Alibaba OSS, MinIO.
 * NB: `secretAccessKey` is a secret: log only `maskUrl` of the URL, never this object.
 */
export interface S3Target {
  engine: 's3'
  bucket: string
  /** The service's base URL (`https://oss-cn-shanghai.aliyuncs.com`); undefined = AWS S3 for `region`. */
  endpoint: string | undefined
  region: string
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (MinIO and most local servers). */
  forcePathStyle: boolean
  /** Both or neither; neither = the SDK's default credentials (AWS_* variables, instance role). */
  accessKeyId: string | undefined
  secretAccessKey: string | undefined
}
export type FilesTarget = LocalFilesTarget | S3Target

const s3Params = ['endpoint', 'region', 'forcePathStyle', 'accessKeyId', 'secretAccessKey', 'secretAccessKeyFile'] as const

/**
 * The `files` URL: `file://PATH` (relative paths resolve against `cwd`; `file:///abs` is absolute)
 * or `s3://[KEY:SECRET@]BUCKET?endpoint=URL&region=R&forcePathStyle=true` where the key pair may
 * also be `?accessKeyId=..&secretAccessKey=..`, and the secret `?secretAccessKeyFile=PATH` (read
 * now, so it never sits in the config; the whole URL may also come from `PLINTH_FILES_FILE`).
 */
export function parseFilesUrl(value: string, key = 'files', cwd = process.cwd()): FilesTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase()
  if (scheme === 'file') {
    const rest = value.slice('file:'.length).replace(/^\/\//, '')
    if (!rest) throw new ConfigError(`config: ${key}: file URL needs a folder, like file://./plinth_data/storage`)
    if (rest.includes('?') || rest.includes('#')) throw new ConfigError(`config: ${key}: file:// takes no parameters, got "${value}"`)
    return { engine: 'local', dir: path.resolve(cwd, decodeURIComponent(rest)) }
  }
  if (scheme !== 's3') throw new ConfigError(`config: ${key}: unsupported scheme "${scheme ?? maskUrl(value)}" (expected file:// or s3://)`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(`config: ${key}: malformed URL "${maskUrl(value)}"`)
  }
  const bucket = url.hostname
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ConfigError(`config: ${key}: "${bucket}" is not a bucket name (3-63 of a-z 0-9 . -)`)
  if (url.port || (url.pathname !== '' && url.pathname !== '/')) throw new ConfigError(`config: ${key}: s3:// takes a bucket name only, no port or path, got "${maskUrl(value)}"`)
  const params = new Map<string, string>()
  for (const [name, v] of url.searchParams) {
    if (!(s3Params as readonly string[]).includes(name)) throw new ConfigError(`config: ${key}: unknown parameter "${name}" (expected ${s3Params.join(', ')})`)
    params.set(name, v)
  }
  const endpoint = params.get('endpoint')
  if (endpoint !== undefined && !/^https?:\/\/[^\s/?#]+\/?$/.test(endpoint)) throw new ConfigError(`config: ${key}: endpoint must be an http(s) URL without a path, got "${endpoint}"`)
  const forcePathStyle = params.get('forcePathStyle') ?? 'false'
  if (forcePathStyle !== 'true' && forcePathStyle !== 'false') throw new ConfigError(`config: ${key}: forcePathStyle must be true or false`)
  let accessKeyId = params.get('accessKeyId') ?? (url.username ? decodeURIComponent(url.username) : undefined)
  let secretAccessKey = params.get('secretAccessKey') ?? (url.password ? decodeURIComponent(url.password) : undefined)
  const secretFile = params.get('secretAccessKeyFile')
  if (secretFile !== undefined) {
    if (secretAccessKey !== undefined) throw new ConfigError(`config: ${key}: give the secret once (secretAccessKey or secretAccessKeyFile)`)
    try {
      secretAccessKey = readFileSync(path.resolve(cwd, secretFile), 'utf8').trim()
    } catch {
      throw new ConfigError(`config: ${key}: cannot read secretAccessKeyFile ${secretFile}`)
    }
  }
  if (accessKeyId === '') accessKeyId = undefined
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) throw new ConfigError(`config: ${key}: give both the access key id and its secret, or neither`)
  return {
    engine: 's3',
    bucket,
    endpoint: endpoint?.replace(/\/$/, ''),
    region: params.get('region') || 'us-east-1',
    forcePathStyle: forcePathStyle === 'true',
    accessKeyId,
    secretAccessKey,
  }
}

/** The `files` URL with a local folder made absolute against `cwd` (S3 URLs unchanged), after validating it. */
export function absoluteFilesUrl(value: string, key: string, cwd: string): string {
  const target = parseFilesUrl(value, key, cwd)
  return target.engine === 'local' ? `file://${target.dir}` : value
}
