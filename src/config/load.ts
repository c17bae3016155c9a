import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { Value } from '@sinclair/typebox/value'
import YAML from 'yaml'
import {
  ConfigFileSchema,
  ConfigSchema,
  defaults,
  envKeys,
  toolingEnvKeys,
  type ConfigInput,
  type PlinthConfig,
} from './schema.ts'
import { ConfigError } from './errors.ts'
import { parseDbUrl } from './urls.ts'

export { ConfigError }

export interface LoadOptions {
  /** An explicit config file (`--config`); when absent, `plinth.config.{json,yaml,yml}` in `cwd` if present. */
  file?: string
  /** Values from command-line flags: they win over the environment and the file. */
  overrides?: ConfigInput
  /** Defaults to `process.env`; tests pass their own. */
  env?: Record<string, string | undefined>
  cwd?: string
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

function readFile(file: string): ConfigInput {
  let raw: unknown
  try {
    const text = readFileSync(file, 'utf8')
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text)
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
    case 'shutdownTimeout': {
      if (!/^\d+$/.test(value)) throw new ConfigError(`config: ${name}: expected a whole number, got "${value}"`)
      return Number(value)
    }
    case 'trustProxy':
      return value === 'true' ? true : value === 'false' ? false : value
    case 'metrics.allow':
      return value.split(',').map((s) => s.trim()).filter(Boolean)
    default:
      return value
  }
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.')
  let cur = obj
  for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>
  cur[parts.at(-1)!] = value
}

function check(schema: typeof ConfigSchema | typeof ConfigFileSchema, value: unknown, where: string): unknown {
  const first = Value.Errors(schema, value).First()
  if (!first) return value
  const key = first.path.replace(/^\//, '').replaceAll('/', '.') || '(root)'
  const what = first.schema && first.message.startsWith('Unexpected property') ? 'unknown key' : first.message.toLowerCase()
  throw new ConfigError(`config: ${key}: ${what} (in ${where})`)
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
  const layered = merge(merge(fromFile, fromEnv), (opts.overrides ?? {}) as Record<string, unknown>)
  check(ConfigFileSchema, layered, 'settings')
  const dir = (layered.dir as string | undefined) ?? './plinth_data'
  const config = merge(defaults(dir) as unknown as Record<string, unknown>, layered) as unknown as PlinthConfig
  check(ConfigSchema, config, 'settings')
  // The data folder and a relative SQLite path are resolved against the working directory.
  config.dir = path.resolve(cwd, config.dir)
  parseDbUrl(config.db, 'db') // validates; throws ConfigError naming the key
  return deepFreeze(config)
}

/** The configuration as text for `plinth config`, with every secret masked. */
export function maskSecrets(config: Readonly<PlinthConfig>): Record<string, unknown> {
  const mask = (v: unknown): unknown => {
    if (typeof v === 'string') return maskUrl(v)
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

/** Replaces the password (and secret-looking query values) of a URL with `****`. */
export function maskUrl(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value
  return value
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):([^@]*)@/i, '$1:****@')
    .replace(/([?&](?:password|secret|token|key)=)[^&]*/gi, '$1****')
}
