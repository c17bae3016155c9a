/**
 * `plinth backup create|list|restore` end to end on an embedded (SQLite, local files) deployment:
 * a backup is created and listed; a restore is refused (one line, exit 2) while `plinth serve`
 * runs on the same data folder, and once it stopped, brings back the records and files as they
 * were at the backup.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { systemRequest } from '../../src/records/record.ts'
import { runCli, startServe } from '../helpers/cli.ts'

describe('plinth backup', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-backup-cli-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  async function withApp<T>(fn: (app: Plinth) => Promise<T>): Promise<T> {
    const app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
    try {
      return await fn(app)
    } finally {
      await app.stop()
    }
  }
  const titles = (app: Plinth) => app.records.list('notes', { sort: 'title' }, systemRequest('list')).then((r) => r.items.map((i) => i.title))

  test('create, list, restore refused while serving, restore', async () => {
    await withApp(async (app) => {
      await app.collections.create({ name: 'notes', fields: [{ name: 'title', type: 'text' }] })
      for (const title of ['one', 'two']) await app.records.create('notes', { title }, systemRequest('create'))
    })
    const bad = await runCli(['backup', 'create', 'Bad Name.zip', '--dir', dir], {}, dir)
    assert.equal(bad.code, 2)
    const created = await runCli(['backup', 'create', 'nightly.zip', '--dir', dir], {}, dir)
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^backup nightly\.zip created \(\d+ bytes\)/)
    const listed = await runCli(['backup', 'list', '--dir', dir], {}, dir)
    assert.match(listed.stdout, /^nightly\.zip\t\d+\t\d{4}-\d\d-\d\d /)

    await withApp(async (app) => {
      await app.records.create('notes', { title: 'three' }, systemRequest('create'))
      assert.deepEqual(await titles(app), ['one', 'three', 'two'])
    })

    const serve = await startServe(['--dir', dir], {}, dir)
    try {
      const refused = await runCli(['backup', 'restore', 'nightly.zip', '--dir', dir], {}, dir)
      assert.equal(refused.code, 2)
      assert.match(refused.stderr, /^plinth: backup restore: 1 other node\(s\) serve this deployment .*stop them first.*\n$/)
    } finally {
      serve.child.kill('SIGTERM')
      await serve.exited
    }
    const restored = await runCli(['backup', 'restore', 'nightly.zip', '--dir', dir], {}, dir)
    assert.equal(restored.code, 0, restored.stderr)
    assert.match(restored.stdout, /backup nightly\.zip restored onto .*; row counts and checksums verified/)
    await withApp(async (app) => assert.deepEqual(await titles(app), ['one', 'two']))
  })
})
