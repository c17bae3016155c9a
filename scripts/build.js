#!/usr/bin/env node
// Builds src/ into dist/, what `plinth` runs and what `import ... from 'plinth'` loads:
// - JavaScript: esbuild bundles the two entry points (src/index.ts, the library; src/cli/main.ts,
//   the command) with code splitting, so both share one copy of every module (an app module's
//   `ApiError` is the server's) and the commands' lazy imports stay lazy chunks. Dependencies stay
//   external, except Kysely and TypeBox: as Node 20 loads them, ~500 small ES modules, they cost
//   ~300 ms of every start; bundled they load in ~30 ms. Both are safe to carry a copy of (Kysely
//   checks nodes by shape, TypeBox marks schemas with Symbol.for keys). Takes well under a second.
// - Declarations: tsc (tsconfig.build.json, incremental), for `plinth`'s types.
// `node scripts/build.js` builds both (the `prepare` and `build` scripts); `--js` only the
// JavaScript (scripts/test.js, `npm run bench`: the processes they spawn run the current sources).
import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const dist = path.join(root, 'dist')
const BUNDLED = new Set(['kysely', '@sinclair/typebox'])

/** Bundles the JavaScript into dist/; removes chunks of earlier builds that are no longer used. */
export async function buildJs() {
  const { build } = await import('esbuild')
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const external = Object.keys(pkg.dependencies).filter((d) => !BUNDLED.has(d)).flatMap((d) => [d, `${d}/*`])
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
    sourcemap: 'linked',
    external,
    metafile: true,
    logLevel: 'warning',
  })
  const written = new Set(Object.keys(result.metafile.outputs).map((f) => path.resolve(root, f)))
  const chunks = path.join(dist, 'chunks')
  for (const name of readdirSync(chunks)) {
    const file = path.join(chunks, name)
    if (!written.has(file) && !written.has(file.replace(/\.map$/, ''))) rmSync(file)
  }
}

/** Emits the declarations (dist/**\/*.d.ts); returns tsc's exit status. */
export function buildTypes() {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  return spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' }).status ?? 1
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildJs()
  if (!process.argv.includes('--js')) process.exitCode = buildTypes()
}
