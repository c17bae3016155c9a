#!/usr/bin/env node
// Plinth runs its built JavaScript (dist/, made from src/ by scripts/build.js: at `npm install`
// through the `prepare` script, or `npm run build`): no TypeScript loader in the serving process.
// An app module written in TypeScript registers tsx itself when it is loaded (src/cli/load.ts).
import { existsSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const main = path.join(root, 'dist', 'cli', 'main.js')
if (!existsSync(main)) {
  process.stderr.write('plinth: dist/ is missing: build it with `npm run build` (npm install does it through `prepare`)\n')
  process.exit(1)
}

/**
 * In a checkout (the installed package has no src/), says so when a source changed after the last
 * build: stale JavaScript running without a word would be worse. Off the start-up path: it runs
 * once the command has started (for `serve`, once it listens), without blocking.
 */
async function warnIfStale() {
  const src = path.join(root, 'src')
  if (!existsSync(src)) return
  const built = (await stat(main)).mtimeMs
  for (const f of await readdir(src, { recursive: true })) {
    if ((await stat(path.join(src, f))).mtimeMs > built) {
      process.stderr.write(`plinth: warning: src/${f} changed after dist/ was built; run \`npm run build\`\n`)
      return
    }
  }
}

await import(pathToFileURL(main).href)
await warnIfStale().catch(() => {})
