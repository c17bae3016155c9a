/**
 * `plinth db copy` end to end: a deployment seeded through the PocketBase SDK on SQLite (every
 * field type, files, an auth collection with users, a view collection) goes SQLite → PostgreSQL →
 * MariaDB → SQLite with the real command; at every stop the collections, every record and every
 * file read through the API are identical to the source's, and a user signs in with their
 * password. A non-empty target is refused (one line, exit 2) until --force, which replaces it.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import PocketBase from 'pocketbase'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { runCli } from '../helpers/cli.ts'
import { createTestDb, engines, type TestDb } from '../helpers/engines.ts'

const available = await engines(['postgres', 'mysql'])
const skip = available.find((e) => e.skip)?.skip ?? false

/** A listening Plinth over `db`, files in `storage`, with the SDK signed in as the superuser. */
async function open(dir: string, db: string, storage: string, seedSuperuser = false): Promise<{ app: Plinth; pb: PocketBase; url: string }> {
  const app = await createPlinth({
    config: { cwd: dir, env: {}, overrides: { dir, db, files: `file://${storage}`, http: '127.0.0.1:0', logLevel: 'silent', rateLimits: { enabled: false } } },
    logger: createLogger({ logLevel: 'silent' }),
  })
  const url = await app.start()
  if (seedSuperuser) await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  const pb = new PocketBase(url)
  pb.autoCancellation(false)
  await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
  return { app, pb, url }
}

/** Everything a client sees: collections, every record of every collection (superuser), each file's bytes. */
async function snapshot(pb: PocketBase): Promise<unknown> {
  const collections = (await pb.collections.getFullList({ sort: 'name' })).map((c) => ({ ...c }))
  const records: Record<string, unknown[]> = {}
  const files: Record<string, string> = {}
  for (const c of collections) {
    // Signing in on each copy (the check itself) adds and touches auth origins: the one table it changes.
    if (c.name === '_authOrigins') continue
    const list = await pb.collection(c.name as string).getFullList({ sort: c.type === 'view' ? 'id' : '@rowid' })
    records[c.name as string] = list
    for (const r of list) {
      for (const f of (c.fields as { name: string; type: string }[]).filter((x) => x.type === 'file')) {
        for (const name of ([] as string[]).concat((r as Record<string, string | string[]>)[f.name] ?? [])) {
          if (!name) continue
          const res = await fetch(pb.files.getURL(r, name))
          files[`${c.name as string}/${r.id}/${name}`] = `${res.status} ${Buffer.from(await res.arrayBuffer()).toString('base64')}`
        }
      }
    }
  }
  return { collections, records, files }
}

async function seed(pb: PocketBase): Promise<void> {
  const users = await pb.collections.getOne('users')
  await pb.collections.update('users', { listRule: '', viewRule: '' })
  const people = []
  for (const [i, name] of ['Ann', 'Bob', 'Zoë'].entries()) {
    people.push(await pb.collection('users').create({ email: `u${i}@example.com`, password: 'user-password-1', passwordConfirm: 'user-password-1', name, verified: i !== 1, emailVisibility: i === 0 }))
  }
  const tags = await pb.collections.create({ name: 'tags', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'label', type: 'text', required: true }], indexes: ['CREATE UNIQUE INDEX idx_tags_label ON tags (label)'] })
  const tagIds = []
  for (const label of ['red', 'green', 'blue']) tagIds.push((await pb.collection('tags').create({ label })).id)
  await pb.collections.create({
    name: 'things', type: 'base', listRule: '', viewRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'count', type: 'number' },
      { name: 'ratio', type: 'number' },
      { name: 'done', type: 'bool' },
      { name: 'contact', type: 'email' },
      { name: 'site', type: 'url' },
      { name: 'due', type: 'date' },
      { name: 'kind', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
      { name: 'flags', type: 'select', values: ['x', 'y', 'z'], maxSelect: 3 },
      { name: 'meta', type: 'json' },
      { name: 'cover', type: 'file', maxSelect: 1, maxSize: 1_000_000 },
      { name: 'docs', type: 'file', maxSelect: 3, maxSize: 1_000_000 },
      { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
      { name: 'tagged', type: 'relation', collectionId: tags.id, maxSelect: 5 },
      { name: 'body', type: 'editor' },
      { name: 'pin', type: 'password' },
      { name: 'where', type: 'geoPoint' },
      { name: 'created', type: 'autodate', onCreate: true },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ],
    indexes: ['CREATE INDEX idx_things_title ON things (title)'],
  })
  for (let i = 0; i < 25; i++) {
    const form = new FormData()
    form.append('title', i % 5 === 0 ? `Ünïcødé "quoted" ${i} 🚀` : `thing ${i}`)
    form.append('count', String(i * 7 - 50))
    form.append('ratio', String(i / 3))
    form.append('done', String(i % 2 === 0))
    if (i % 3) form.append('contact', `c${i}@example.com`)
    form.append('site', `https://example.com/${i}?q=a&b=c`)
    form.append('due', `2026-0${(i % 9) + 1}-1${i % 10} 10:20:30.123Z`)
    form.append('kind', ['a', 'b', 'c', ''][i % 4]!)
    for (const f of ['x', 'y', 'z'].slice(0, i % 4)) form.append('flags', f)
    form.append('meta', JSON.stringify(i % 4 === 3 ? null : { n: i, nested: { zz: [1, 2.5, 'three', true, null], aa: 'é' }, list: [i] }))
    if (i % 2) form.append('cover', new Blob([`cover of ${i}`], { type: 'text/plain' }), `cover${i}.txt`)
    for (let d = 0; d < i % 3; d++) form.append('docs', new Blob([Buffer.from([0, 255, i, d])], { type: 'application/octet-stream' }), `doc${d}.bin`)
    form.append('owner', people[i % 3]!.id)
    for (const t of tagIds.slice(0, i % 4)) form.append('tagged', t)
    form.append('body', `<p>Hello <b>${i}</b></p>`)
    form.append('pin', `pin-number-${i}`)
    form.append('where', JSON.stringify({ lon: i * 1.5 - 10, lat: -i / 7 }))
    await pb.collection('things').create(form)
  }
  await pb.collections.create({ name: 'thing_titles', type: 'view', listRule: '', viewRule: '', viewQuery: 'SELECT id, title, count FROM things WHERE count > 0' })
}

describe('plinth db copy', { skip }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-db-copy-'))
  const storage = path.join(dir, 'storage')
  const sqliteA = `sqlite://${dir}/a.db`
  const sqliteB = `sqlite://${dir}/b.db`
  const dbs: TestDb[] = []
  let expected: unknown

  before(async () => {
    const { app, pb } = await open(dir, sqliteA, storage, true)
    try {
      await seed(pb)
      expected = await snapshot(pb)
    } finally {
      await app.stop()
    }
    dbs.push(await createTestDb('postgres'), await createTestDb('mysql'))
  })
  after(async () => {
    for (const d of dbs) await d.drop().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  })

  async function copy(from: string, to: string, ...extra: string[]) {
    return runCli(['db', 'copy', '--from', from, '--to', to, '--dir', dir, ...extra], {}, dir)
  }

  async function check(db: string) {
    const { app, pb } = await open(dir, db, storage)
    try {
      assert.deepStrictEqual(await snapshot(pb), expected)
      const user = new PocketBase(pb.baseURL)
      const auth = await user.collection('users').authWithPassword('u2@example.com', 'user-password-1')
      assert.equal(auth.record.name, 'Zoë')
    } finally {
      await app.stop()
    }
  }

  test('SQLite → PostgreSQL → MariaDB → SQLite: identical records, files and sign-in at every stop', async () => {
    const [pg, maria] = dbs as [TestDb, TestDb]
    for (const [from, to] of [[sqliteA, pg.url], [pg.url, maria.url], [maria.url, sqliteB]] as const) {
      const r = await copy(from, to)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /db copy: \d+ rows in \d+ tables from .* to .*; row counts and checksums verified/)
      await check(to)
    }
  })

  test('a non-empty target is refused without --force, a source that is no Plinth database too (one line, exit 2); --force replaces it', async () => {
    const [pg] = dbs as [TestDb]
    const refused = await copy(sqliteB, pg.url)
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /^plinth: db copy: the target .* is not empty \(\d+ tables\); pass --force to replace its content\n$/)
    // Change the target so the forced copy has something to replace.
    const { app, pb } = await open(dir, pg.url, storage)
    try {
      await pb.collections.create({ name: 'stray', type: 'base', fields: [{ name: 'x', type: 'text' }] })
      // (Not a delete: the copies share one storage folder, and a delete would remove its files.)
      await pb.collection('things').update((await pb.collection('things').getFirstListItem('count > 0')).id, { title: 'changed on the target' })
    } finally {
      await app.stop()
    }
    const notPlinth = await copy(`sqlite://${dir}/empty.db`, `sqlite://${dir}/c.db`)
    assert.equal(notPlinth.code, 2)
    assert.match(notPlinth.stderr, /^plinth: db copy: the source .*empty\.db is not a Plinth database .*\n$/)
    const forced = await copy(sqliteB, pg.url, '--force')
    assert.equal(forced.code, 0, forced.stderr)
    await check(pg.url)
  })
})
