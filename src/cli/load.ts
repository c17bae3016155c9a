import path from 'node:path'
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { findConfigFile, loadConfig } from '../config/load.ts'
import { ConfigError } from '../config/errors.ts'
import type { Plinth } from '../app.ts'
import type { CliFlags } from './main.ts'

/** The configuration a command runs with: file, then env, then flags. */
export function configFromFlags(flags: CliFlags) {
  const overrides: Record<string, string> = {}
  if (flags.http) overrides.http = flags.http
  if (flags.dir) overrides.dir = flags.dir
  return loadConfig({ file: flags.config, overrides })
}

/** An app module's default export: it receives the app before it listens. */
export type AppModule = (app: Plinth) => void | Promise<void>

/**
 * Finds the app module: `--app FILE`, else `plinth.app.ts` / `plinth.app.js` beside the config
 * file (or in the working directory). Returns undefined when there is none.
 */
export function findAppModule(flags: CliFlags): string | undefined {
  const cwd = process.cwd()
  if (flags.app) {
    const file = path.resolve(cwd, flags.app)
    if (!existsSync(file)) throw new ConfigError(`app: module ${flags.app} does not exist`)
    return file
  }
  const configFile = findConfigFile(cwd, flags.config)
  const base = configFile ? path.dirname(configFile) : cwd
  return ['plinth.app.ts', 'plinth.app.js', 'plinth.app.mjs'].map((n) => path.join(base, n)).find((p) => existsSync(p))
}

export async function loadAppModule(file: string): Promise<AppModule> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
  if (typeof mod.default !== 'function') {
    throw new ConfigError(`app: ${path.basename(file)} must export a default function (app) => void`)
  }
  return mod.default as AppModule
}
