#!/usr/bin/env node
// Plinth runs its built JavaScript (dist/, made from src/ by scripts/build.js: at `npm install`
// through the `prepare` script, or `npm run build`): no TypeScript loader in the serving process.
// An app module written in TypeScript registers tsx itself when it is loaded (src/cli/load.ts).
import { existsSync, readdirSync, statSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('plinth: dist/ is missing: build it with `npm run build` (npm install does it through `prepare`)\n')
  process.exit(1)
}

// In a checkout (the package as installed has no src/), say so when a source changed after the
// last build: running stale JavaScript without a word would be worse than the ~2 ms this takes.
const src = new URL('../src/', import.meta.url)
if (existsSync(src)) {
  const built = statSync(main).mtimeMs
  const stale = readdirSync(src, { recursive: true }).find((f) => statSync(new URL(f, src)).mtimeMs > built)
  if (stale) process.stderr.write(`plinth: warning: src/${stale} changed after dist/ was built; run \`npm run build\`\n`)
}

await import(main.href)
