/**
 * The configuration as the `plinth` command sees it: `plinth config` prints it masked, and a bad
 * setting stops `plinth serve` before it opens anything, with one line on stderr naming the key.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { runCli } from '../helpers/cli.ts'

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-cli-config-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}

describe('plinth config', () => {
  test('prints the effective configuration as JSON with secrets masked', async () => {
    const cwd = tempDir({ 'plinth.config.yaml': 'logLevel: warn\n', 'db.txt': 'mysql://app:t0ps3cret@127.0.0.1:3306/app' })
    const r = await runCli(['config', '--http', '127.0.0.1:7001'], { PLINTH_DB_FILE: 'db.txt' }, cwd)
    assert.equal(r.code, 0, r.stderr)
    const shown = JSON.parse(r.stdout) as Record<string, unknown>
    assert.equal(shown.http, '127.0.0.1:7001', 'flags win')
    assert.equal(shown.logLevel, 'warn', 'the file is read')
    assert.equal(shown.db, 'mysql://app:****@127.0.0.1:3306/app')
    assert.doesNotMatch(r.stdout, /t0ps3cret/)
  })
})

describe('plinth config --config', () => {
  test('reads the named file instead of the default one', async () => {
    const cwd = tempDir({ 'plinth.config.json': '{"logLevel":"warn"}', 'other.yaml': 'logLevel: debug\nhttp: 127.0.0.1:7002\n' })
    const r = await runCli(['config', '--config', 'other.yaml'], {}, cwd)
    assert.equal(r.code, 0, r.stderr)
    const shown = JSON.parse(r.stdout) as Record<string, unknown>
    assert.equal(shown.logLevel, 'debug')
    assert.equal(shown.http, '127.0.0.1:7002')
  })
})

/** Bad settings given three ways; each must name its key in exactly one line. */
const bad: { name: string; args?: string[]; env?: Record<string, string>; files?: Record<string, string>; line: RegExp }[] = [
  { name: 'unknown key in the file', files: { 'plinth.config.json': '{"telepathy":"psi://x"}' }, line: /^plinth: config: telepathy: unknown key/ },
  { name: 'wrong type in the environment', env: { PLINTH_BODY_LIMIT: 'lots' }, line: /^plinth: config: PLINTH_BODY_LIMIT: expected a whole number/ },
  { name: 'malformed URL in the environment', env: { PLINTH_DB: 'postgres://' }, line: /^plinth: config: db: / },
  { name: 'unknown log format in the environment', env: { PLINTH_LOG_FORMAT: 'plain' }, line: /^plinth: config: PLINTH_LOG_FORMAT \(logFormat\): expected "json" or "pretty", got "plain"/ },
  { name: 'realtime idle timeout not a number', env: { PLINTH_REALTIME_IDLE_TIMEOUT: '5m' }, line: /^plinth: config: PLINTH_REALTIME_IDLE_TIMEOUT: expected a whole number, got "5m"/ },
  { name: 'realtime queue bound too small', env: { PLINTH_REALTIME_MAX_QUEUE_BYTES: '10' }, line: /^plinth: config: PLINTH_REALTIME_MAX_QUEUE_BYTES \(realtime\.maxQueueBytes\): / },
  { name: 'bad flag value', args: ['--http', 'nowhere'], line: /^plinth: config: http: expected HOST:PORT/ },
]

describe('plinth serve: a bad setting stops start-up', () => {
  for (const b of bad) {
    test(b.name, async () => {
      const cwd = tempDir(b.files)
      const r = await runCli(['serve', ...(b.args ?? [])], b.env ?? {}, cwd)
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`)
      const lines = r.stderr.trimEnd().split('\n')
      assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`)
      assert.match(lines[0]!, b.line)
      assert.equal(r.stdout, '', 'nothing was started, so nothing was logged')
      assert.ok(!existsSync(path.join(cwd, 'plinth_data')), 'no data folder was created')
    })
  }
})

describe('plinth --version and help', () => {
  const table: { args: string[]; out: RegExp; code?: number }[] = [
    { args: ['--version'], out: /^plinth \d+\.\d+\.\d+\n$/ },
    { args: ['-v'], out: /^plinth \d+\.\d+\.\d+\n$/ },
    { args: ['help'], out: /^Usage: plinth <command>/ },
    { args: ['--help'], out: /^Usage: plinth <command>/ },
    { args: ['help', 'serve'], out: /^Usage: plinth serve \[options\]/ },
    { args: ['serve', '--help'], out: /^Usage: plinth serve \[options\]/ },
    { args: ['migrate', '-h'], out: /^Usage: plinth migrate \[options\]/ },
    { args: ['help', 'superuser'], out: /^Usage: plinth superuser <command>/ },
    { args: ['config', '--help'], out: /^Usage: plinth config \[options\]/ },
  ]
  for (const { args, out } of table) {
    test(`plinth ${args.join(' ')}`, async () => {
      const r = await runCli(args, {}, tempDir())
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, out)
      assert.equal(r.stderr, '')
    })
  }

  test('help for an unknown command exits 2 and says so', async () => {
    const r = await runCli(['help', 'frobnicate'], {}, tempDir())
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^plinth: unknown command "frobnicate"/)
  })

  test('--help never starts anything', async () => {
    const cwd = tempDir()
    const r = await runCli(['serve', '--help'], {}, cwd)
    assert.equal(r.code, 0)
    assert.ok(!existsSync(path.join(cwd, 'plinth_data')))
  })
})
