import { envVarOf } from './schema.ts'

/**
 * Where each explicitly set configuration value came from: `file plinth.config.json`,
 * `env PLINTH_PUBLIC_URL` or `flag`, keyed by its dotted config key (`rateLimits.rules`). Values
 * left to the defaults have no entry. The settings API (src/settings/) reads this to show which
 * settings the configuration fixes, and where.
 */
export type ConfigSources = ReadonlyMap<string, string>

const byConfig = new WeakMap<object, ConfigSources>()

/** The dotted keys `layer` sets (objects are walked; arrays and scalars are leaves). */
function keysOf(layer: unknown, prefix = ''): string[] {
  if (!layer || typeof layer !== 'object' || Array.isArray(layer)) return prefix ? [prefix] : []
  return Object.entries(layer).flatMap(([k, v]) => (v === undefined ? [] : keysOf(v, prefix ? `${prefix}.${k}` : k)))
}

/** The sources of the three layers, later layers winning (as they do for the values). */
export function collectSources(file: { name?: string; values: unknown }, env: unknown, flags: unknown): Map<string, string> {
  const out = new Map<string, string>()
  if (file.name) for (const key of keysOf(file.values)) out.set(key, `file ${file.name}`)
  for (const key of keysOf(env)) out.set(key, `env ${envVarOf(key) ?? key}`)
  for (const key of keysOf(flags)) out.set(key, 'flag')
  return out
}

export function rememberSources(config: object, sources: ConfigSources): void {
  byConfig.set(config, sources)
}

/** The sources of a loaded config (empty for a config object built by hand). */
export function configSources(config: object): ConfigSources {
  return byConfig.get(config) ?? new Map()
}
