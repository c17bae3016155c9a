import path from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { findConfigFile, loadConfig } from '../config/load.ts'
import { ConfigError } from '../config/errors.ts'
import { pino } from 'pino'
import type { Plinth } from '../app.ts'
import type { PlinthConfig } from '../config/schema.ts'
import type { Core } from '../core.ts'
import { createLogger } from '../log.ts'
import type { CliFlags } from './main.ts'

/**
 * The configuration a command runs with: file, then env, then flags. Every path in it (the data
 * folder, a SQLite file) is made absolute here, once, against the working directory, so every
 * command finds the same files.
 */
export function configFromFlags(flags: CliFlags): Readonly<PlinthConfig> {
  const overrides: Record<string, string> = {}
  if (flags.http) overrides.http = flags.http
  if (flags.dir) overrides.dir = flags.dir
  if (flags.https) overrides.https = flags.https
  return loadConfig({ file: flags.config, overrides })
}

/**
 * The core (ports, migrations, records) for a one-shot command. Its log goes to stderr, so the
 * command's own answer on stdout stays clean for scripts.
 */
export async function openCommandCore(config: Readonly<PlinthConfig>): Promise<Core> {
  const { openCore } = await import('../core.ts')
  return openCore(config, { logger: createLogger(config, pino.destination({ dest: 2, sync: true })), syncSchema: false })
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
  return ['plinth.app.ts', 'plinth.app.mts', 'plinth.app.js', 'plinth.app.mjs'].map((n) => path.join(base, n)).find((p) => existsSync(p))
}

/** Whether Node (and tsx) load `file` as an ES module: by extension, else by the nearest package.json. */
function isEsModule(file: string): boolean {
  if (/\.m[jt]s$/.test(file)) return true
  if (/\.c[jt]s$/.test(file)) return false
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type === 'module'
      } catch {
        return false
      }
    }
    if (path.dirname(dir) === dir) return false
  }
}

/**
 * Imports the app module. It must be an ES module: loaded as CommonJS, its imports of Plinth would
 * get a second copy of every Plinth module (so `instanceof ApiError` and the like would fail), so
 * that case stops start-up with a message saying how to fix it.
 */
export async function loadAppModule(file: string): Promise<AppModule> {
  if (!isEsModule(file)) {
    const name = path.basename(file)
    throw new ConfigError(
      `app: ${name} would load as CommonJS: add "type": "module" to the package.json beside it, or rename it ${name.replace(/\.[jt]s$/, (ext) => (ext === '.ts' ? '.mts' : '.mjs'))}`,
    )
  }
  // Plinth itself runs as compiled JavaScript; a TypeScript app module (and what it imports)
  // loads through tsx, whose hooks are registered only now, so a JavaScript app pays nothing.
  if (/\.[mc]?ts$/.test(file)) (await import('tsx/esm/api')).register()
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
  if (typeof mod.default !== 'function') {
    throw new ConfigError(`app: ${path.basename(file)} must export a default function (app) => void`)
  }
  return mod.default as AppModule
}
