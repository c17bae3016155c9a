#!/usr/bin/env node
// Runs every test file under test/ with Node's own test runner (TypeScript through tsx).
// Extra arguments are passed on: `npm test -- --test-name-pattern=filter`, or file paths to run only those.
// First it brings dist/ up to date with src/ (incremental; nothing to do when no source changed):
// tests that spawn bin/plinth.js run the compiled JavaScript, as production does, and so must see
// the current sources.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { build } from './build.js'

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return find(p)
    return e.name.endsWith('.test.ts') ? [p] : []
  })
}

if (build() !== 0) process.stderr.write('scripts/test.js: the build reported errors (see above); testing what it emitted\n')

const args = process.argv.slice(2)
const files = args.filter((a) => a.endsWith('.ts'))
const flags = args.filter((a) => !a.endsWith('.ts'))
const targets = files.length ? files : find('test').sort()
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...flags, ...targets],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
