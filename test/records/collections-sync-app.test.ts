/**
 * Two whole Plinth apps on one PostgreSQL database, as two `plinth serve` processes: a collection
 * created, changed or deleted through one app's HTTP API is served by the other without a
 * restart. Until the bus port is wired into the app, the change travels by the stored schema
 * version (checked every few seconds), so the wait bound is generous; with a shared bus it is
 * immediate. Nothing asserts how fast.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { engines } from '../helpers/engines.ts'

/** Resolves with the first answer `check` accepts; fails after `ms`. */
async function until<T>(probe: () => Promise<T>, check: (v: T) => boolean, what: string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (check(v)) return v
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const pg = (await engines(['postgres']))[0]!

describe('collections sync: two apps on one PostgreSQL database', { skip: pg.skip }, () => {
  let a: TestApp
  let b: Plinth
  let dir: string
  before(async () => {
    a = await startApp('postgres')
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-app-b-'))
    b = await createPlinth({
      config: { cwd: dir, env: {}, overrides: { db: a.app.config.db, dir, logLevel: 'silent' } },
      logger: createLogger({ logLevel: 'silent' }),
    })
  })
  after(async () => {
    await b?.stop()
    await a?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const onB = (method: 'GET' | 'PATCH' | 'DELETE', url: string, body?: object) =>
    b.http.inject({ method, url, headers: { authorization: a.su }, ...(body ? { payload: body } : {}) })

  test('create, update and delete through one app are served by the other', async () => {
    assert.equal((await onB('GET', '/api/collections/journal/records')).statusCode, 404)
    await a.must('POST', '/api/collections', { name: 'journal', listRule: '', fields: [{ name: 'entry', type: 'text' }] })
    await a.must('POST', '/api/collections/journal/records', { entry: 'first' })

    const list = await until(() => onB('GET', '/api/collections/journal/records'), (r) => r.statusCode === 200, 'the new collection on B')
    assert.deepEqual(list.json<{ items: { entry: string }[] }>().items.map((i) => i.entry), ['first'])

    // Changed on B (the superuser's token is valid on both: one database), read on A.
    const patched = await onB('PATCH', '/api/collections/journal', { listRule: null })
    assert.equal(patched.statusCode, 200, patched.body)
    await until(() => a.call('GET', '/api/collections/journal/records'), (r) => r.statusCode === 403, 'the changed rule on A')

    const deleted = await onB('DELETE', '/api/collections/journal')
    assert.equal(deleted.statusCode, 204, deleted.body)
    await until(() => a.call('GET', '/api/collections/journal/records', { token: a.su }), (r) => r.statusCode === 404, 'the deletion on A')
  })
})
