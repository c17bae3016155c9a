#!/usr/bin/env node
// Runs every test file under test/ with Node's own test runner (TypeScript through tsx).
// Extra arguments are passed on: `npm test -- --test-name-pattern=filter`, or file paths to run only those.
// First it bundles src/ into dist/ (the JavaScript only, under a second): tests that spawn
// bin/plinth.js run the built JavaScript, as production does, and so must see the current sources.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { buildJs } from './build.js'

/**
 * Files that run alone, after the others, with their own time limit (ms) instead of 120 s:
 * pack.test.ts installs Plinth into an empty project, which compiles better-sqlite3 (minutes on
 * 2 cores, and it must not starve the other files of CPU); deploy-rollout, deploy-webhook and
 * deploy-autoscale put nodes and nginx under autocannon load, which must neither starve nor be starved by the other files;
 * ansible.test.ts runs the playbook twice, its API hosts one at a time (serial: 1);
 * records-cache-replica.test.ts makes a streaming replica of the shared PostgreSQL that applies
 * 4 s late, and waits until it has caught up with the primary: in the main batch, with the other
 * files writing to the same server (each makes and drops its databases), the new replica once took
 * over a minute to catch up; alone the file takes ~7 s.
 */
const slow = new Map([
  [path.join('test', 'e2e', 'pack.test.ts'), 600_000],
  [path.join('test', 'e2e', 'deploy-rollout.test.ts'), 300_000],
  [path.join('test', 'e2e', 'deploy-webhook.test.ts'), 300_000],
  [path.join('test', 'e2e', 'deploy-autoscale.test.ts'), 300_000],
  [path.join('test', 'deploy', 'ansible.test.ts'), 300_000],
  [path.join('test', 'sql', 'records-cache-replica.test.ts'), 300_000],
])

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return find(p)
    return e.name.endsWith('.test.ts') ? [p] : []
  })
}

await buildJs()

const args = process.argv.slice(2)
const files = args.filter((a) => a.endsWith('.ts'))
const flags = args.filter((a) => !a.endsWith('.ts'))
const targets = (files.length ? files : find('test').sort()).map((f) => path.relative(process.cwd(), path.resolve(f)))

function runTests(list, timeout) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeout}`, ...flags, ...list], {
    stdio: 'inherit',
  })
  return r.status ?? 1
}

let status = 0
const usual = targets.filter((f) => !slow.has(f))
if (usual.length) status = runTests(usual, 120_000)
for (const f of targets.filter((f) => slow.has(f))) status = runTests([f], slow.get(f)) || status
process.exit(status)
