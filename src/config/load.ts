import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isIP } from 'node:net'
import path from 'node:path'
import { Value, type ValueError } from '@sinclair/typebox/value'
import {
  ConfigFileSchema,
  ConfigSchema,
  defaults,
  envKeys,
  redisPortKeys,
  toolingEnvKeys,
  type ConfigInput,
  type PlinthConfig,
} from './schema.ts'
import { ConfigError } from './errors.ts'
import { resolveCdn } from './cdn.ts'
import { absolutePushUrl, parsePushUrl } from './push-url.ts'
import { collectSources, rememberSources } from './sources.ts'
import { absoluteDbUrl, absoluteFilesUrl, maskUrl, parseDbUrl, parseBusUrl, parseCacheUrl, parseCountersUrl, parseMailUrl, parseQueueUrl, parseSmsUrl, parseRedisUrl } from './urls.ts'

export { ConfigError }

export interface LoadOptions {
  /** An explicit config file (`--config`); when absent, `plinth.config.{json,yaml,yml}` in `cwd` if present. */
  file?: string
  /** Values from command-line flags: they win over the environment and the file. */
  overrides?: ConfigInput
  /** Defaults to `process.env`; tests pass their own. */
  env?: Record<string, string | undefined>
  cwd?: string
  /** Whether stdout is a terminal (picks the default `logFormat`); defaults to `process.stdout.isTTY`. */
  tty?: boolean
}

const fileNames = ['plinth.config.json', 'plinth.config.yaml', 'plinth.config.yml']

/** Finds the config file that applies, or undefined. */
export function findConfigFile(cwd: string, file?: string): string | undefined {
  if (file) {
    const p = path.resolve(cwd, file)
    if (!existsSync(p)) throw new ConfigError(`config: file ${file} does not exist`)
    return p
  }
  return fileNames.map((n) => path.join(cwd, n)).find((p) => existsSync(p))
}

/** The YAML parser, loaded only for a YAML file (~50 ms of start-up otherwise). */
const yaml = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml')

function readFile(file: string): ConfigInput {
  let raw: unknown
  try {
    const text = readFileSync(file, 'utf8')
    raw = file.endsWith('.json') ? JSON.parse(text) : yaml().parse(text)
  } catch (err) {
    throw new ConfigError(`config: cannot parse ${path.basename(file)}: ${(err as Error).message.split('\n')[0]}`)
  }
  raw ??= {}
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config: ${path.basename(file)} must hold an object`)
  }
  return check(ConfigFileSchema, raw, path.basename(file)) as ConfigInput
}

/** Reads `PLINTH_*` variables (and their `_FILE` forms) into a partial config. */
function readEnv(env: Record<string, string | undefined>, cwd: string): ConfigInput {
  const out: Record<string, unknown> = {}
  for (const [name, rawValue] of Object.entries(env)) {
    if (!name.startsWith('PLINTH_') || rawValue === undefined) continue
    const base = name.endsWith('_FILE') ? name.slice(0, -5) : name
    if (toolingEnvKeys.has(name)) continue
    const key = (envKeys as Record<string, string>)[base]
    if (!key) throw new ConfigError(`config: unknown environment variable ${name}`)
    let value = rawValue
    if (base !== name) {
      try {
        value = readFileSync(path.resolve(cwd, rawValue), 'utf8').trim()
      } catch {
        throw new ConfigError(`config: ${name}: cannot read file ${rawValue}`)
      }
    }
    setPath(out, key, coerce(key, value, name))
  }
  return out as ConfigInput
}

function coerce(key: string, value: string, name: string): unknown {
  switch (key) {
    case 'bodyLimit':
    case 'shutdownTimeout':
    case 'shutdownDrain':
    case 'deploy.keep':
    case 'statementTimeout':
    case 'poolTimeout':
    case 'poolSize':
    case 'headersTimeout':
    case 'requestTimeout':
    case 'keepAliveTimeout':
    case 'cacheRecordsTtl':
    case 'authThrottle.perIdentity':
    case 'authThrottle.perIp':
    case 'authThrottle.windowSeconds':
    case 'realtime.idleTimeout':
    case 'backups.cronMaxKeep':
    case 'realtime.maxQueueBytes':
    case 'im.maxMessageBytes':
    case 'im.userRate':
    case 'im.connectionRate':
    case 'hstsMaxAge':
    case 'audit.retentionDays':
    case 'cdn.ttlSeconds':
    case 'signatures.maxSkewSeconds':
    case 'phone.perPhoneMinute':
    case 'phone.perPhoneHour':
    case 'phone.perPhoneDay':
    case 'phone.perIpHour':
    case 'phone.perDeviceHour':
    case 'phone.dailyBudget':
    case 'dbMaxReplicaLag': {
      if (!/^\d+$/.test(value)) throw new ConfigError(`config: ${name}: expected a whole number, got "${value}"`)
      return Number(value)
    }
    case 'keys.requireEncryption':
      if (value !== 'true' && value !== 'false') throw new ConfigError(`config: ${name}: expected true or false, got "${value}"`)
      return value === 'true'
    case 'trustProxy':
      return value === 'true' ? true : value === 'false' ? false : value
    case 'rateLimits.enabled':
    case 'cacheRecords':
    case 'im.enabled':
    case 'im.pushOffline':
    case 'trustedProxy.useLeftmostIP':
      if (value !== 'true' && value !== 'false') throw new ConfigError(`config: ${name}: expected true or false, got "${value}"`)
      return value === 'true'
    case 'trustedProxy.headers':
      return value.split(',').map((s) => s.trim()).filter(Boolean)
    case 'rateLimits.excludedIPs':
    case 'adminAllow':
    case 'metrics.allow': {
      const list = value.split(',').map((s) => s.trim()).filter(Boolean)
      const bad = list.find((e) => !isIpOrCidr(e))
      if (bad !== undefined) throw new ConfigError(`config: ${name}: "${bad}" is not an IP or CIDR (expected a comma list like 127.0.0.1,10.0.0.0/8)`)
      return list
    }
    case 'cors.origins':
    case 'im.origins':
    case 'phone.countries':
    case 'dbReplicas':
      return value.split(',').map((s) => s.trim()).filter(Boolean)
    default:
      return value
  }
}

/** Replicas and the DR instance: server URLs of the primary's engine (SQLite has no replicas). */
function checkDbCluster(config: PlinthConfig): void {
  const engine = parseDbUrl(config.db, 'db').engine
  const others: [string, string][] = [...config.dbReplicas.map((u, i): [string, string] => [`dbReplicas[${i}]`, u]), ...(config.dbDr ? [['dbDr', config.dbDr] as [string, string]] : [])]
  for (const [key, url] of others) {
    const target = parseDbUrl(url, key)
    if (engine === 'sqlite') throw new ConfigError(`config: ${key}: SQLite has no replicas; set db to a postgres:// or mysql:// primary first`)
    if (target.engine !== engine) throw new ConfigError(`config: ${key}: a ${target.engine} instance cannot replicate the ${engine} primary in db`)
  }
}

/** An IPv4/IPv6 address, or one with a `/bits` prefix length that fits its family. */
function isIpOrCidr(entry: string): boolean {
  const [addr = '', bits, ...rest] = entry.split('/')
  const family = isIP(addr)
  if (!family || rest.length) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32))
}

/** Checks a schema cannot express: a port in range, addresses that parse. */
function checkValues(config: PlinthConfig): void {
  const port = Number(/:(\d+)$/.exec(config.http)?.[1])
  if (!(port <= 65535)) throw new ConfigError(`config: http: port ${port} is out of range (0-65535) in "${config.http}"`)
  if (config.headersTimeout > config.requestTimeout) {
    throw new ConfigError(`config: headersTimeout: ${config.headersTimeout} is more than requestTimeout ${config.requestTimeout} (the headers are part of the request)`)
  }
  for (const [key, list] of [['metrics.allow', config.metrics.allow], ['rateLimits.excludedIPs', config.rateLimits.excludedIPs], ['adminAllow', config.adminAllow]] as const) {
    const bad = list.find((e) => !isIpOrCidr(e))
    if (bad !== undefined) throw new ConfigError(`config: ${key}: "${bad}" is not an IP or CIDR`)
  }
  if (typeof config.trustProxy === 'string') {
    const bad = config.trustProxy.split(',').map((s) => s.trim()).find((e) => !isIpOrCidr(e))
    if (bad !== undefined) throw new ConfigError(`config: trustProxy: "${bad}" is not an IP or CIDR (expected true, false or a comma list of proxy addresses)`)
  }
  const seen = new Set<string>()
  for (const [i, rule] of config.rateLimits.rules.entries()) {
    const key = `${rule.label}${rule.audience ?? ''}`
    if (seen.has(key)) throw new ConfigError(`config: rateLimits.rules.${i}: "${rule.label}"${rule.audience ? ` (${rule.audience})` : ''} is already a rule`)
    seen.add(key)
  }
  if (config.rateLimits.enabled && config.rateLimits.rules.length === 0) throw new ConfigError('config: rateLimits.rules: empty while rateLimits.enabled is true (set enabled: false to turn rate limits off)')
  if (config.https !== '' && config.https !== 'dev' && !/^[^,]+,[^,]+$/.test(config.https)) {
    throw new ConfigError(`config: https: expected "dev" or CERT_FILE,KEY_FILE, got "${config.https}"`)
  }
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.')
  let cur = obj
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>
  cur[parts.at(-1)!] = value
}

function check(
  schema: typeof ConfigSchema | typeof ConfigFileSchema,
  value: unknown,
  where: string,
  label: (key: string) => string = (key) => key,
): unknown {
  const errors = [...Value.Errors(schema, value)]
  // An unknown key explains the other errors at its level (a misspelt key is also a missing one).
  const first = errors.find((e) => e.message.startsWith('Unexpected property')) ?? errors[0]
  if (!first) return value
  const key = first.path.replace(/^\//, '').replaceAll('/', '.') || '(root)'
  throw new ConfigError(`config: ${label(key)}: ${describe(first)} (in ${where})`)
}

/** One readable clause for a schema error: what was expected and what was given. */
function describe(err: ValueError): string {
  if (err.message.startsWith('Unexpected property')) return 'unknown key'
  const s = err.schema as { anyOf?: { const?: unknown; type?: string; description?: string }[]; pattern?: string; description?: string }
  let expected: string
  if (s.anyOf) expected = `expected ${s.anyOf.map((a) => a.description ?? (a.const !== undefined ? JSON.stringify(a.const) : a.type)).join(' or ')}`
  else if (s.pattern && s.description) expected = `expected ${s.description}`
  else expected = err.message.charAt(0).toLowerCase() + err.message.slice(1)
  if (err.value === undefined || typeof err.value === 'object') return expected
  const shown = JSON.stringify(typeof err.value === 'string' ? maskUrl(err.value) : err.value)
  return `${expected}, got ${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown}`
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base }
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue
    const cur = out[k]
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v
  }
  return out
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

/**
 * Builds the effective configuration: defaults, then the file, then `PLINTH_*` variables,
 * then command-line overrides. Validated once and frozen; throws ConfigError on any problem.
 */
export function loadConfig(opts: LoadOptions = {}): Readonly<PlinthConfig> {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  const file = findConfigFile(cwd, opts.file)
  const fromFile = file ? readFile(file) : {}
  const fromEnv = readEnv(env, cwd)
  const envName = (key: string) => {
    const name = Object.entries(envKeys).find(([, k]) => k === key || key.startsWith(`${k}.`))?.[0]
    return name ? `${name} (${key})` : key
  }
  check(ConfigFileSchema, fromEnv, 'environment', envName)
  check(ConfigFileSchema, opts.overrides ?? {}, 'flags')
  const layered = merge(merge(fromFile, fromEnv), (opts.overrides ?? {}) as Record<string, unknown>)
  // `redis` puts every shared-state port on Redis, except those set on their own (at any layer).
  if (typeof layered.redis === 'string' && layered.redis) for (const k of redisPortKeys) layered[k] ??= layered.redis
  // The data folder is one fact, fixed here: absolute, against `cwd`; the default SQLite file is
  // derived from it and a relative SQLite path is resolved the same way, so nothing later (the
  // root, any command) depends on the process's working directory.
  const dir = path.resolve(cwd, typeof layered.dir === 'string' && layered.dir ? layered.dir : './plinth_data')
  const config = merge(defaults(dir, opts.tty ?? process.stdout.isTTY === true) as unknown as Record<string, unknown>, layered) as unknown as PlinthConfig
  check(ConfigSchema, config, 'settings')
  checkValues(config)
  config.dir = dir
  config.db = absoluteDbUrl(config.db, 'db', cwd) // validates; throws ConfigError naming the key
  // Certificate files are read at start against this working directory, like the SQLite path.
  if (config.https.includes(',')) config.https = config.https.split(',').map((f) => path.resolve(cwd, f.trim())).join(',')
  checkDbCluster(config)
  parseMailUrl(config.mail, 'mail')
  parseSmsUrl(config.sms, 'sms')
  config.push = absolutePushUrl(config.push, (f) => path.resolve(cwd, f))
  parsePushUrl(config.push, 'push')
  if (config.redis) parseRedisUrl(config.redis, 'redis')
  parseCacheUrl(config.cache, 'cache')
  parseCountersUrl(config.counters, 'counters')
  parseBusUrl(config.bus, 'bus')
  parseQueueUrl(config.queue, 'queue')
  config.files = absoluteFilesUrl(config.files, 'files', cwd)
  config.cdn = resolveCdn(config.cdn, cwd)
  if (config.deploy.webhookSecret && (!config.deploy.repo || !config.deploy.root)) {
    throw new ConfigError('config: deploy: webhookSecret is set, so deploy.repo (what to clone) and deploy.root (where releases go) are needed too')
  }
  if (config.deploy.root) config.deploy.root = path.resolve(cwd, config.deploy.root)
  if (config.logs.url) config.logs.url = absoluteDbUrl(config.logs.url, 'logs.url', cwd)
  const frozen = deepFreeze(config)
  // Which values were set explicitly, and where: settings the configuration fixes (src/settings/).
  rememberSources(frozen, collectSources({ name: file && path.basename(file), values: fromFile }, fromEnv, opts.overrides ?? {}))
  return frozen
}

/** The configuration as text for `plinth config`, with every secret masked. */
export function maskSecrets(config: Readonly<PlinthConfig>): Record<string, unknown> {
  const mask = (v: unknown): unknown => {
    // A comma list of URLs (`push`) is masked URL by URL.
    if (typeof v === 'string') return v.split(',').map(maskUrl).join(',')
    if (Array.isArray(v)) return v.map(mask)
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [k, /secret|password|token|key$/i.test(k) ? '****' : mask(x)]),
      )
    }
    return v
  }
  return mask(config) as Record<string, unknown>
}
