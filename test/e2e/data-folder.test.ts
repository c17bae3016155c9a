/**
 * The data folder is one fact: `plinth migrate`, `plinth superuser` and `plinth serve` given the
 * same `--dir` use the same SQLite file (they all open the same core), and an embedding app that
 * passes `cwd` gets its files there, not in the process's own directory.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { createPlinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { sqliteDialect } from '../../src/sql/sqlite/dialect.ts'
import { runCli, startServe } from '../helpers/cli.ts'

describe('one data folder for every command', () => {
  test('migrate, superuser and serve with --dir data, run from another directory, share one SQLite file', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'plinth-dir-'))
    try {
      const migrated = await runCli(['migrate', '--dir', 'data'], {}, cwd)
      assert.equal(migrated.code, 0, migrated.stderr)
      assert.equal(migrated.stdout.trim(), `applied: ${Object.keys(systemMigrations(sqliteDialect)).join(', ')}`)
      assert.ok(existsSync(path.join(cwd, 'data', 'data.db')))

      const su = await runCli(['superuser', 'create', 'root@example.com', 'root-password-1', '--dir', 'data'], { PLINTH_LOG_LEVEL: 'silent' }, cwd)
      assert.equal(su.code, 0, su.stderr)

      const { child, url, exited } = await startServe(['--dir', 'data'], {}, cwd)
      // The superuser the CLI wrote is in the database serve opened.
      const signIn = await fetch(`${url}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'root@example.com', password: 'root-password-1' }),
      })
      assert.equal(signIn.status, 200, await signIn.clone().text())
      child.kill('SIGTERM')
      const r = await exited
      assert.equal(r.code, 0, r.stderr)
      assert.doesNotMatch(r.stdout, /applied migrations/, 'serve found the database migrate had prepared')

      const again = await runCli(['migrate', '--dir', 'data'], {}, cwd)
      assert.equal(again.stdout.trim(), 'nothing to apply')
      assert.ok(!existsSync(path.join(cwd, 'plinth_data')), 'no second data folder')
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })

  test('createPlinth with a cwd keeps the data folder and its SQLite file there', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'plinth-dir-'))
    assert.notEqual(process.cwd(), cwd)
    const app = await createPlinth({ config: { cwd, env: {}, overrides: { dir: 'here', logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
    try {
      assert.equal(app.config.dir, path.join(cwd, 'here'))
      assert.ok(existsSync(path.join(cwd, 'here', 'data.db')), 'the database is in the data folder under cwd')
      assert.ok(!existsSync(path.join(process.cwd(), 'here')), 'nothing in the process directory')
    } finally {
      await app.stop()
      rmSync(cwd, { recursive: true, force: true })
    }
  })
})
