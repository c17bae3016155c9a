/**
 * Fields marked `encrypt` (AES-256-GCM at rest, keys.atRestKey), on every engine: the database
 * holds only ciphertext; views, lists, expand, committed-change events (what realtime sends) and
 * auth responses give the plaintext; filters and sorts on such a field are refused with 400 (for
 * guests, rules and superusers alike); the mark is validated. The cipher's key rotation and
 * record binding are checked on their own.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { engines } from '../helpers/engines.ts'
import { startApp, type TestApp } from '../helpers/app.ts'
import { AtRestCipher, AtRestKeyError, parseAtRestKeys } from '../../src/security/at-rest/cipher.ts'
import { ConfigError } from '../../src/config/errors.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createPlinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import type { RecordJson } from '../../src/records/record.ts'

const K1 = Buffer.alloc(32, 1).toString('base64')
const K2 = Buffer.alloc(32, 2).toString('base64')

type Data = Record<string, Record<string, { code?: string; message?: string } | undefined> | { code?: string; message?: string } | undefined>

describe('the at-rest cipher', () => {
  test('a new key first: old values still open, new ones use the new key; a missing key is an error, not ciphertext', () => {
    const old = new AtRestCipher(parseAtRestKeys(K1))
    const sealed = old.seal('123-45-6789', 'rec1')
    assert.ok(old.isSealed(sealed) && !sealed.includes('6789'))
    assert.notEqual(old.seal('123-45-6789', 'rec1'), sealed, 'a fresh IV each time')
    const rotated = new AtRestCipher(parseAtRestKeys(`${K2}, ${K1}`))
    assert.equal(rotated.open(sealed, 'rec1'), '123-45-6789')
    const fresh = rotated.seal('x', 'rec1')
    assert.notEqual(fresh.split('$')[2], sealed.split('$')[2], 'the key id changes with the key')
    assert.throws(() => old.open(fresh, 'rec1'), AtRestKeyError)
    assert.throws(() => new AtRestCipher([]).seal('x', 'rec1'), AtRestKeyError)
  })

  test('a value is bound to its record id, and a changed byte does not open', () => {
    const c = new AtRestCipher(parseAtRestKeys(K1))
    const sealed = c.seal('secret', 'rec1')
    assert.equal(c.open(sealed, 'rec2'), undefined)
    const last = sealed.at(-2) === 'A' ? 'B' : 'A'
    assert.equal(c.open(sealed.slice(0, -2) + last + sealed.at(-1)!, 'rec1'), undefined)
    assert.equal(c.open('plain text', 'rec1'), undefined)
  })

  test('bad settings name keys.atRestKey and never the key', () => {
    assert.throws(() => parseAtRestKeys('c2hvcnQ='), (e: unknown) => e instanceof ConfigError && /keys\.atRestKey: key 1 must be 32 bytes/.test(e.message))
    assert.throws(() => new AtRestCipher(parseAtRestKeys(`${K1},${K1}`)), (e: unknown) => e instanceof ConfigError && !e.message.includes(K1))
  })
})

for (const { engine, skip } of await engines()) {
  describe(`${engine}: fields encrypted at rest`, { skip }, () => {
    let t: TestApp
    let noteId = ''
    const events: RecordJson[] = []

    before(async () => {
      t = await startApp(engine, { keys: { atRestKey: `${K2},${K1}` } })
      const notes = (await t.must('POST', '/api/collections', {
        name: 'notes', type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'secret', type: 'text', encrypt: true },
          { name: 'mail', type: 'email', encrypt: true },
          { name: 'doc', type: 'json', encrypt: true },
          { name: 'body', type: 'editor', encrypt: true },
        ],
      })) as { id: string }
      await t.must('POST', '/api/collections', {
        name: 'comments', type: 'base', listRule: '', viewRule: '', createRule: '',
        fields: [{ name: 'text', type: 'text' }, { name: 'note', type: 'relation', collectionId: notes.id, maxSelect: 1 }],
      })
      await t.must('POST', '/api/collections', {
        name: 'members', type: 'auth', listRule: 'id = @request.auth.id', viewRule: 'id = @request.auth.id',
        fields: [{ name: 'nickname', type: 'text', encrypt: true }],
        passwordAuth: { enabled: true, identityFields: ['email'] },
      })
      t.app.records.onCommit((changes) => {
        for (const c of changes) if (c.collection.name === 'notes') events.push(c.record)
      })
    })
    after(async () => {
      await t?.close()
    })

    test('a guest writes plaintext; the table holds ciphertext; view, list and expand read plaintext', async () => {
      const res = await t.call('POST', '/api/collections/notes/records', { body: { title: 'hello', secret: 'ssn 123-45-6789', mail: 'ann@example.com', doc: { card: '4111' }, body: '<p>private</p>' } })
      assert.equal(res.statusCode, 200, res.body)
      const created = res.json<RecordJson>()
      noteId = created.id
      assert.deepEqual([created.secret, created.mail, created.doc, created.body], ['ssn 123-45-6789', 'ann@example.com', { card: '4111' }, '<p>private</p>'])

      const row = (await t.app.sql.writer().db.selectFrom('notes').selectAll().where('id', '=', noteId).executeTakeFirstOrThrow()) as Record<string, unknown>
      assert.equal(row.title, 'hello')
      const stored = JSON.stringify(row)
      for (const plain of ['123-45-6789', 'ann@example.com', '4111', 'private']) assert.ok(!stored.includes(plain), `${plain} is not stored in the clear: ${stored}`)
      assert.match(String(row.secret), /^\$pe1\$/)
      assert.match(typeof row.doc === 'string' ? row.doc : JSON.stringify(row.doc), /^"?\$pe1\$/)

      const view = (await t.call('GET', `/api/collections/notes/records/${noteId}`)).json<RecordJson>()
      assert.deepEqual([view.secret, view.mail, view.doc, view.body], ['ssn 123-45-6789', 'ann@example.com', { card: '4111' }, '<p>private</p>'])
      const list = (await t.call('GET', '/api/collections/notes/records?filter=' + encodeURIComponent("title = 'hello'"))).json<{ items: RecordJson[] }>()
      assert.equal(list.items[0]?.secret, 'ssn 123-45-6789')

      const comment = await t.call('POST', '/api/collections/comments/records', { body: { text: 'c', note: noteId } })
      assert.equal(comment.statusCode, 200, comment.body)
      const expanded = (await t.call('GET', `/api/collections/comments/records/${comment.json<RecordJson>().id}?expand=note`)).json<{ expand: { note: RecordJson } }>()
      assert.equal(expanded.expand.note.secret, 'ssn 123-45-6789')
      assert.equal(events.at(-1)?.secret, 'ssn 123-45-6789', 'the committed change (realtime) carries plaintext')
    })

    test('an update re-seals; an emptied value stays empty', async () => {
      const res = await t.call('PATCH', `/api/collections/notes/records/${noteId}`, { body: { secret: 'changed', doc: null, mail: '' } })
      assert.equal(res.statusCode, 200, res.body)
      assert.deepEqual([res.json<RecordJson>().secret, res.json<RecordJson>().doc, res.json<RecordJson>().mail], ['changed', null, ''])
      const row = (await t.app.sql.writer().db.selectFrom('notes').selectAll().where('id', '=', noteId).executeTakeFirstOrThrow()) as Record<string, unknown>
      assert.match(String(row.secret), /^\$pe1\$/)
      assert.equal(row.mail, '')
      assert.equal(events.at(-1)?.secret, 'changed')
    })

    test('filters and sorts on an encrypted field are refused with 400, for guests and superusers', async () => {
      const urls = [
        '/api/collections/notes/records?filter=' + encodeURIComponent("secret = 'changed'"),
        '/api/collections/notes/records?filter=' + encodeURIComponent("secret ~ 'ch'"),
        '/api/collections/notes/records?filter=' + encodeURIComponent('doc.card = 4111'),
        '/api/collections/notes/records?filter=' + encodeURIComponent('secret:length > 3'),
        '/api/collections/notes/records?sort=secret',
        '/api/collections/comments/records?filter=' + encodeURIComponent("note.secret = 'changed'"),
      ]
      for (const url of urls) {
        for (const token of [undefined, t.su]) {
          const res = await t.call('GET', url, { token })
          assert.equal(res.statusCode, 400, `${url}: ${res.body}`)
          assert.match(res.json<{ message: string }>().message, /encrypted at rest/)
        }
      }
    })

    test('a view selecting an encrypted column with the record id decrypts it, and refuses filters on it', async () => {
      await t.must('POST', '/api/collections', { name: 'note_secrets', type: 'view', listRule: '', viewRule: '', viewQuery: 'SELECT id, title, secret FROM notes' })
      const item = (await t.call('GET', `/api/collections/note_secrets/records/${noteId}`)).json<RecordJson>()
      assert.equal(item.secret, 'changed')
      const res = await t.call('GET', '/api/collections/note_secrets/records?filter=' + encodeURIComponent("secret = 'changed'"))
      assert.equal(res.statusCode, 400, res.body)
    })

    test('auth responses decrypt the signed-in record', async () => {
      await t.must('POST', '/api/collections/members/records', { email: 'm@example.com', password: 'member-password-1', passwordConfirm: 'member-password-1', nickname: 'Moonpie' })
      const res = await t.call('POST', '/api/collections/members/auth-with-password', { body: { identity: 'm@example.com', password: 'member-password-1' } })
      assert.equal(res.statusCode, 200, res.body)
      const { token, record } = res.json<{ token: string; record: RecordJson }>()
      assert.equal(record.nickname, 'Moonpie')
      const refreshed = await t.call('POST', '/api/collections/members/auth-refresh', { token })
      assert.equal(refreshed.json<{ record: RecordJson }>().record.nickname, 'Moonpie')
    })

    test('the mark is validated: type, system fields, indexes, rules, turning it off', async () => {
      const bad = async (body: Record<string, unknown>, path: (string | number)[], method = 'POST', url = '/api/collections') => {
        const res = await t.call(method, url, { token: t.su, body })
        assert.equal(res.statusCode, 400, res.body)
        let at: unknown = res.json<{ data: Data }>().data
        for (const p of path) at = (at as Record<string, unknown> | undefined)?.[p]
        assert.ok(at, `an error at ${path.join('.')}: ${res.body}`)
      }
      await bad({ name: 'n1', type: 'base', fields: [{ name: 'n', type: 'number', encrypt: true }] }, ['fields', 1, 'encrypt']) // after the id field
      await bad({ name: 'n2', type: 'base', fields: [{ name: 's', type: 'text', encrypt: true }], indexes: ['CREATE UNIQUE INDEX idx_n2_s ON n2 (s)'] }, ['indexes', 0])
      await bad({ name: 'n3', type: 'base', listRule: "s = 'x'", fields: [{ name: 's', type: 'text', encrypt: true }] }, ['listRule'])
      const notes = (await t.must('GET', '/api/collections/notes')) as { fields: Record<string, unknown>[] }
      const fields = notes.fields.map((f) => (f.name === 'secret' ? { ...f, encrypt: false } : f))
      await bad({ fields }, ['fields', fields.findIndex((f) => f.name === 'secret'), 'encrypt'], 'PATCH', '/api/collections/notes')
      const members = (await t.must('GET', '/api/collections/members')) as { fields: Record<string, unknown>[] }
      const withEmail = members.fields.map((f) => (f.name === 'email' ? { ...f, encrypt: true } : f))
      await bad({ fields: withEmail }, ['fields', withEmail.findIndex((f) => f.name === 'email'), 'encrypt'], 'PATCH', '/api/collections/members')
      assert.equal(notes.fields.find((f) => f.name === 'title')!.encrypt, undefined, 'unmarked fields keep PocketBase\'s shape')
    })
  })
}

describe('keys.atRestKey as set by the operator', () => {
  test('PLINTH_AT_REST_KEY and its _FILE form set it; a bad key stops start-up naming the setting, never the key', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-at-rest-'))
    try {
      writeFileSync(path.join(dir, 'k'), `${K2},${K1}\n`)
      assert.equal(loadConfig({ cwd: dir, env: { PLINTH_AT_REST_KEY: K1 } }).keys.atRestKey, K1)
      assert.equal(loadConfig({ cwd: dir, env: { PLINTH_AT_REST_KEY_FILE: 'k' } }).keys.atRestKey, `${K2},${K1}`)
      const bad = 'c2hvcnQga2V5'
      await assert.rejects(
        createPlinth({ config: { cwd: dir, env: { PLINTH_AT_REST_KEY: bad }, overrides: { dir, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) }),
        (e: unknown) => e instanceof ConfigError && e.message.includes('keys.atRestKey') && !e.message.includes(bad),
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('sqlite: without keys.atRestKey', () => {
  let t: TestApp
  before(async () => {
    t = await startApp('sqlite')
  })
  after(async () => {
    await t?.close()
  })

  test('no field can be marked, and the error names the setting', async () => {
    const res = await t.call('POST', '/api/collections', { token: t.su, body: { name: 'x', type: 'base', fields: [{ name: 's', type: 'text', encrypt: true }] } })
    assert.equal(res.statusCode, 400, res.body)
    assert.match(res.body, /keys\.atRestKey/)
  })
})
