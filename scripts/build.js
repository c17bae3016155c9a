#!/usr/bin/env node
// Builds src/ into dist/ (tsc -p tsconfig.build.json, incremental) when any source is newer than
// the last build; `--force` builds regardless. Used by scripts/test.js and `npm run bench`, so the
// processes they spawn through bin/plinth.js run the current sources. `npm run build` always builds.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const stamp = path.join(root, 'dist', '.tsbuildinfo')

function newest(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

function mtime(file) {
  try {
    return statSync(file).mtimeMs
  } catch {
    return 0
  }
}

/** Whether dist/ is older than src/, the tsconfig files or package.json. */
export function stale() {
  const inputs = [newest(path.join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => mtime(path.join(root, f)))]
  return mtime(stamp) < Math.max(...inputs)
}

/**
 * Builds when stale (or always with `force`). Type errors are printed but do not stop the caller:
 * tsc still emits, and `npm run typecheck` is where they fail.
 */
export function build({ force = false } = {}) {
  if (!force && !stale()) return 0
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
  // An incremental build that found nothing to emit may leave the stamp as it was.
  if (existsSync(stamp)) utimesSync(stamp, new Date(), new Date())
  return r.status ?? 1
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = build({ force: process.argv.includes('--force') })
}
