#!/usr/bin/env node
// Builds src/ into dist/, what `plinth` runs and what `import ... from 'plinth'` loads:
// - JavaScript: esbuild bundles the two entry points (src/index.ts, the library; src/cli/main.ts,
//   the command) with code splitting, so both share one copy of every module (an app module's
//   `ApiError` is the server's) and the commands' lazy imports stay lazy chunks. Takes under a second.
//   Fastify (with its plugins), Kysely and TypeBox are bundled in: as separate files they are ~900
//   modules, and loading them one by one was most of every start (Kysely and TypeBox alone, ~500
//   small ES modules, ~300 ms on Node 20). Each is safe to carry a copy of: TypeBox marks schemas
//   with Symbol.for keys, Kysely checks nodes by shape, and Fastify recognises plugins by
//   Symbol.for keys and its version number, never by identity. What stays outside (EXTERNAL) is
//   native or loaded only when configured (SQL and Redis drivers, BullMQ, mail, sharp, the S3 client), resolved by path at run
//   time (pino's transports, tsx's loader), or loaded on first need through createRequire (yaml,
//   prom-client's parts).
// - The admin console: ui/ into dist/admin (scripts/build-ui.js), served at /_/.
// - Declarations: tsc (tsconfig.build.json, incremental), for `plinth`'s types.
// `node scripts/build.js` builds both (the `prepare` and `build` scripts); `--js` only the
// JavaScript (scripts/test.js, `npm run bench`: the processes they spawn run the current sources).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildUi } from './build-ui.js'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const dist = path.join(root, 'dist')
const EXTERNAL = ['better-sqlite3', 'pg', 'mysql2', 'ioredis', 'bullmq', 'nodemailer', 'pino', 'pino-pretty', 'tsx', 'yaml', 'prom-client', 'sharp', '@aws-sdk/client-s3', '@aws-sdk/s3-request-presigner']

/** Bundles the JavaScript into dist/; removes chunks of earlier builds that are no longer used. */
export async function buildJs() {
  const { build } = await import('esbuild')
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const unknown = EXTERNAL.filter((d) => !pkg.dependencies[d])
  if (unknown.length) throw new Error(`scripts/build.js: ${unknown.join(', ')} in EXTERNAL but not a dependency`)
  const external = EXTERNAL.flatMap((d) => [d, `${d}/*`])
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/index.ts', 'src/cli/main.ts'],
    outdir: 'dist',
    outbase: 'src',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // For `node --enable-source-maps`: stack traces name the source files and lines. The maps
    // carry only the mappings, not the sources' text (Plinth's `src/` is not in the package).
    sourcemap: 'linked',
    sourcesContent: false,
    external,
    // Bundled CommonJS (Fastify) requires Node's own modules and the external packages.
    banner: { js: "import { createRequire as __plinthRequire } from 'node:module'; const require = __plinthRequire(import.meta.url);" },
    metafile: true,
    logLevel: 'warning',
  })
  const written = new Set(Object.keys(result.metafile.outputs).map((f) => path.resolve(root, f)))
  const chunks = path.join(dist, 'chunks')
  for (const name of readdirSync(chunks)) {
    const file = path.join(chunks, name)
    if (!written.has(file) && !written.has(file.replace(/\.map$/, ''))) rmSync(file)
  }
  // The admin console's static bundle (dist/admin, scripts/build-ui.js).
  await buildUi()
}

/**
 * Emits the declarations (dist/**\/*.d.ts); returns tsc's exit status. Skipped, with a note, where
 * TypeScript is not installed (`npm ci --omit=dev` on a server): running needs only the JavaScript.
 */
export function buildTypes() {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  if (!existsSync(tsc)) {
    process.stderr.write('scripts/build.js: typescript is not installed (dev dependency): dist/ has no type declarations\n')
    return 0
  }
  return spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' }).status ?? 1
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildJs()
  if (!process.argv.includes('--js')) process.exitCode = buildTypes()
}
