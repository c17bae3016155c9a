/**
 * PocketBase's backups API through its JS SDK (`pb.backups.*`): a backup taken on PostgreSQL
 * (create, list, download with a superuser file token) is uploaded to a fresh SQLite deployment
 * and restored there, and onto MariaDB: records and files come back identical. Names are checked as PocketBase
 * does; a restore is refused while another node serves; `canBackup` in `/api/health`; the
 * `backups.cron` schedule keeps `cronMaxKeep` backups; delete.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, test } from 'node:test'
import PocketBase, { ClientResponseError } from 'pocketbase'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

const [pgCase, mysqlCase] = await engines(['postgres', 'mysql'])

interface Node {
  app: Plinth
  pb: PocketBase
  dir: string
}

async function start(db: string | undefined, overrides: Record<string, unknown> = {}, dir = mkdtempSync(path.join(tmpdir(), 'plinth-backups-'))): Promise<Node> {
  const app = await createPlinth({
    config: { cwd: dir, env: {}, overrides: { dir, ...(db ? { db } : {}), http: '127.0.0.1:0', logLevel: 'silent', rateLimits: { enabled: false }, ...overrides } },
    logger: createLogger({ logLevel: 'silent' }),
  })
  const url = await app.start()
  await createSuperuser(app.records, 'root@example.com', 'root-password-1').catch(() => undefined)
  const pb = new PocketBase(url)
  pb.autoCancellation(false)
  await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
  return { app, pb, dir }
}

async function notes(pb: PocketBase): Promise<unknown> {
  const list = await pb.collection('notes').getFullList({ sort: '@rowid' })
  const files: string[] = []
  for (const r of list) for (const f of r.attachments as string[]) files.push(Buffer.from(await (await fetch(pb.files.getURL(r, f))).arrayBuffer()).toString('hex'))
  const users = (await pb.collection('users').getFullList({ sort: 'email' })).map((u) => [u.email, u.name])
  return { list, files, users }
}

/** Waits for a restore started through the API to finish (signing in again: the superusers were replaced). */
async function waitRestored(pb: PocketBase): Promise<void> {
  for (let i = 0; i < 300; i++) {
    await sleep(200)
    try {
      await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
      const health = await pb.health.check()
      if (health.data.canBackup === true) return
    } catch {
      // 503 while restoring
    }
  }
  throw new Error('the restore did not finish')
}

describe('backups through the PocketBase SDK', { skip: pgCase!.skip }, () => {
  let pgDb: TestDb
  let source: Node
  let target: Node
  let expected: unknown
  let zip: Buffer

  before(async () => {
    pgDb = await createTestDb('postgres')
    source = await start(pgDb.url)
    target = await start(undefined)
    const { pb } = source
    await pb.collections.create({
      name: 'notes', type: 'base', listRule: '', viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'n', type: 'number' },
        { name: 'ok', type: 'bool' },
        { name: 'meta', type: 'json' },
        { name: 'attachments', type: 'file', maxSelect: 3, maxSize: 100_000 },
      ],
    })
    for (let i = 0; i < 12; i++) {
      const form = new FormData()
      form.append('title', `note ${i} ✓`)
      form.append('n', String(i * 1.25))
      form.append('ok', String(i % 2 === 0))
      form.append('meta', JSON.stringify({ i, tags: ['a', i] }))
      for (let f = 0; f < i % 3; f++) form.append('attachments', new Blob([Buffer.from(`file ${i}.${f}`)]), `a${f}.txt`)
      await pb.collection('notes').create(form)
    }
    await pb.collections.update('users', { listRule: '', viewRule: '' })
    await pb.collection('users').create({ email: 'ann@example.com', password: 'ann-password-1', passwordConfirm: 'ann-password-1', name: 'Ann' })
    expected = await notes(pb)
  })
  after(async () => {
    for (const n of [source, target]) {
      await n?.app.stop()
      if (n) rmSync(n.dir, { recursive: true, force: true })
    }
    await pgDb?.drop()
  })

  test('create, list, names checked as PocketBase, canBackup', async () => {
    const { pb } = source
    assert.equal((await pb.health.check()).data.canBackup, true)
    assert.equal(await pb.backups.create('first.zip'), true)
    const list = await pb.backups.getFullList()
    assert.equal(list.length, 1)
    assert.equal(list[0]!.key, 'first.zip')
    assert.ok(list[0]!.size > 100)
    assert.match(list[0]!.modified, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/)
    for (const [name, code] of [['Bad Name.zip', 'validation_match_invalid'], ['first.zip', 'validation_backup_name_exists']] as const) {
      const err = await pb.backups.create(name).catch((e: ClientResponseError) => e)
      assert.ok(err instanceof ClientResponseError)
      assert.equal(err.status, 400)
      assert.equal((err.response.data as Record<string, { code: string }>).name?.code, code)
    }
    // A default name, as PocketBase's: pb_backup_<time>.zip.
    await pb.backups.create('')
    assert.ok((await pb.backups.getFullList()).some((b) => /^pb_backup_\d{14}\.zip$/.test(b.key)))
    const guest = new PocketBase(pb.baseURL)
    await assert.rejects(guest.backups.getFullList(), (e: ClientResponseError) => e.status === 401)
  })

  test('download with a superuser file token; a bad token is 403', async () => {
    const { pb } = source
    const token = await pb.files.getToken()
    const res = await fetch(pb.backups.getDownloadURL(token, 'first.zip'))
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/zip')
    zip = Buffer.from(await res.arrayBuffer())
    assert.deepEqual([...zip.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04])
    const bad = await fetch(pb.backups.getDownloadURL('nope', 'first.zip'))
    assert.equal(bad.status, 403)
  })

  test('upload onto SQLite and restore: the PostgreSQL deployment comes back identical', async () => {
    const { pb } = target
    await assert.rejects(pb.backups.upload({ file: new File([Buffer.from('not a zip')], 'junk.zip', { type: 'application/zip' }) }), (e: ClientResponseError) => e.status === 400)
    assert.equal(await pb.backups.upload({ file: new File([zip], 'first.zip', { type: 'application/zip' }) }), true)
    assert.deepEqual((await pb.backups.getFullList()).map((b) => b.key), ['first.zip'])

    // Another node serving from the same data folder: refused, saying how to stop it.
    const other = await start(undefined, {}, target.dir)
    try {
      const err = await pb.backups.restore('first.zip').catch((e: ClientResponseError) => e)
      assert.ok(err instanceof ClientResponseError)
      assert.equal(err.status, 400)
      assert.match(err.message, /other node\(s\) serve this deployment .*stop them first/)
    } finally {
      await other.app.stop()
    }

    assert.equal(await pb.backups.restore('first.zip'), true)
    await waitRestored(pb)
    assert.deepStrictEqual(await notes(pb), expected)
    const ann = await new PocketBase(pb.baseURL).collection('users').authWithPassword('ann@example.com', 'ann-password-1')
    assert.equal(ann.record.name, 'Ann')
    // The backup itself is still there (backups are never part of a backup or removed by a restore).
    assert.deepEqual((await pb.backups.getFullList()).map((b) => b.key), ['first.zip'])
  })

  test('the same backup restores onto MariaDB', { skip: mysqlCase!.skip }, async () => {
    const mariaDb = await createTestDb('mysql')
    const node = await start(mariaDb.url)
    try {
      assert.equal(await node.pb.backups.upload({ file: new File([zip], 'first.zip', { type: 'application/zip' }) }), true)
      assert.equal(await node.pb.backups.restore('first.zip'), true)
      await waitRestored(node.pb)
      assert.deepStrictEqual(await notes(node.pb), expected)
    } finally {
      await node.app.stop()
      rmSync(node.dir, { recursive: true, force: true })
      await mariaDb.drop()
    }
  })

  test('delete; deleting again is 400', async () => {
    const { pb } = source
    assert.equal(await pb.backups.delete('first.zip'), true)
    assert.ok(!(await pb.backups.getFullList()).some((b) => b.key === 'first.zip'))
    await assert.rejects(pb.backups.delete('first.zip'), (e: ClientResponseError) => e.status === 400)
  })

  test('backups.cron: the schedule is registered and keeps cronMaxKeep backups', async () => {
    const node = await start(undefined, { backups: { cron: '0 3 * * *', cronMaxKeep: 2 } })
    try {
      const crons = (await node.pb.crons.getFullList()).map((c) => c.id)
      assert.ok(crons.includes('__pbBackups__'))
      for (let i = 0; i < 3; i++) {
        await node.pb.crons.run('__pbBackups__')
        // Names carry the second; a run waits for the next one, and for the previous run to end.
        await sleep(1100)
        for (let w = 0; w < 50 && !(await node.pb.health.check()).data.canBackup; w++) await sleep(100)
      }
      const auto = (await node.pb.backups.getFullList()).filter((b) => b.key.startsWith('@auto_pb_backup_'))
      assert.equal(auto.length, 2)
    } finally {
      await node.app.stop()
      rmSync(node.dir, { recursive: true, force: true })
    }
  })
})
