#!/usr/bin/env node
// Plinth runs its compiled JavaScript (dist/, built from src/ by `npm install` through the
// `prepare` script, or `npm run build`): no TypeScript loader in the serving process. An app
// module written in TypeScript registers tsx itself when it is loaded (src/cli/load.ts).
import { existsSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('plinth: dist/ is missing: build it with `npm run build` (npm install does it through `prepare`)\n')
  process.exit(1)
}
await import(main.href)
