/**
 * Direct uploads against s3rver: presign, PUT with fetch, confirm; the record gets the file and
 * /api/files serves it. Wrong size or magic bytes: 400 and the object deleted; no update rights:
 * refused; a confirmed or unknown upload id: 404; local files: 400.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { png, storedKeys } from '../helpers/files.ts'
import { startS3rver, type LocalS3 } from '../helpers/s3.ts'
import { startRecordsApp, type RecordsApp } from './records-app.ts'

describe('direct uploads on S3', () => {
  let s3: LocalS3
  let t: RecordsApp
  let cid: string
  let owner: { id: string; token: string }
  let other: { id: string; token: string }
  let image: Buffer
  let postId: string

  before(async () => {
    s3 = await startS3rver(['direct'])
    t = await startRecordsApp('sqlite', { files: s3.url('direct') })
    image = await png(64, 64)
    owner = await t.user('owner@example.com')
    other = await t.user('other@example.com')
    cid = (await t.collection({
      name: 'posts',
      type: 'base',
      listRule: '', viewRule: '', createRule: '@request.auth.id != ""', updateRule: 'owner = @request.auth.id',
      fields: [
        { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
        { name: 'avatar', type: 'file', maxSelect: 1, maxSize: 100_000, mimeTypes: ['image/png', 'image/jpeg'] },
        { name: 'docs', type: 'file', maxSelect: 5 },
      ],
    })).id
    const post = await t.call('POST', '/api/collections/posts/records', { token: owner.token, body: { owner: owner.id } })
    assert.equal(post.status, 200, post.raw)
    postId = String(post.body.id)
  })
  after(async () => {
    await t?.close()
    await s3?.close()
  })

  const presign = (token: string, body: Record<string, unknown>) => t.call('POST', '/api/plinth/uploads', { token, body: { collection: 'posts', record: postId, field: 'avatar', name: 'me.png', size: image.length, type: 'image/png', ...body } })
  const put = (res: { body: Record<string, unknown> }, data: Buffer) =>
    fetch(String(res.body.url), { method: 'PUT', headers: res.body.headers as Record<string, string>, body: data })
  const confirm = (token: string, id: unknown) => t.call('POST', `/api/plinth/uploads/${String(id)}/confirm`, { token })
  const pending = async () => (await storedKeys(t.app.files)).filter((k) => k.startsWith('_pending/'))

  test('presign, PUT, confirm: the record has the file and it is served', async () => {
    const res = await presign(owner.token, {})
    assert.equal(res.status, 200, res.raw)
    assert.equal(res.body.method, 'PUT')
    assert.ok(Date.parse(String(res.body.expiresAt)) > Date.now())
    assert.equal((await put(res, image)).status, 200)
    const done = await confirm(owner.token, res.body.uploadId)
    assert.equal(done.status, 200, done.raw)
    const name = String(done.body.avatar)
    assert.match(name, /\.png$/)
    const file = await t.app.http.inject({ method: 'GET', url: `/api/files/posts/${postId}/${name}` })
    assert.equal(file.statusCode, 200)
    assert.ok(file.rawPayload.equals(image))
    assert.deepEqual(await pending(), [])
    assert.ok((await storedKeys(t.app.files)).includes(`${cid}/${postId}/${name}`))
    // Single use.
    assert.equal((await confirm(owner.token, res.body.uploadId)).status, 404)
  })

  test('a multi-file field appends', async () => {
    const before = await t.call('GET', `/api/collections/posts/records/${postId}`)
    for (let i = 0; i < 2; i++) {
      const res = await presign(owner.token, { field: 'docs', name: `d${i}.png` })
      assert.equal((await put(res, image)).status, 200)
      assert.equal((await confirm(owner.token, res.body.uploadId)).status, 200)
    }
    const after = await t.call('GET', `/api/collections/posts/records/${postId}`)
    assert.equal((after.body.docs as string[]).length, (before.body.docs as string[]).length + 2)
  })

  test('a size other than declared: 400, object deleted', async () => {
    const res = await presign(owner.token, { size: image.length + 10 })
    assert.equal(res.status, 200, res.raw)
    // The signed Content-Length makes S3 refuse another length; the stored object is what counts.
    await t.app.files.put(`_pending/${String(res.body.uploadId)}/data`, image)
    const done = await confirm(owner.token, res.body.uploadId)
    assert.equal(done.status, 400, done.raw)
    assert.match(String(done.body.message), /bytes/)
    assert.deepEqual(await pending(), [])
  })

  test('bytes that are not the declared type: 400, object deleted', async () => {
    const text = Buffer.from('hello, not an image at all '.repeat(10))
    const res = await presign(owner.token, { size: text.length })
    assert.equal((await put(res, text)).status, 200)
    const done = await confirm(owner.token, res.body.uploadId)
    assert.equal(done.status, 400, done.raw)
    assert.deepEqual(await pending(), [])
  })

  test('limits are checked before signing', async () => {
    assert.equal((await presign(owner.token, { size: 200_000 })).status, 400)
    assert.equal((await presign(owner.token, { type: 'text/plain' })).status, 400)
    assert.equal((await presign(owner.token, { field: 'owner' })).status, 400)
    assert.equal((await t.call('POST', '/api/plinth/uploads', { body: { collection: 'posts', record: postId, field: 'avatar', name: 'a.png', size: 10, type: 'image/png' } })).status, 401)
  })

  test('someone without update rights cannot attach', async () => {
    const res = await presign(other.token, {})
    assert.equal(res.status, 200, res.raw)
    assert.equal((await put(res, image)).status, 200)
    const done = await confirm(other.token, res.body.uploadId)
    assert.ok([403, 404].includes(done.status), done.raw)
    assert.deepEqual(await pending(), [])
    // Nor can someone else confirm the owner's upload.
    const mine = await presign(owner.token, {})
    assert.equal((await confirm(other.token, mine.body.uploadId)).status, 404)
  })

  test('an unknown or expired upload id: 404', async () => {
    assert.equal((await confirm(owner.token, 'nope')).status, 404)
    assert.equal((await confirm(owner.token, 'a'.repeat(24))).status, 404)
    // Expiry is the counters key's TTL (the URL's); its end is what a deleted key looks like.
    const res = await presign(owner.token, {})
    assert.equal((await put(res, image)).status, 200)
    await t.app.counters.delete(`upload:${String(res.body.uploadId)}`)
    assert.equal((await confirm(owner.token, res.body.uploadId)).status, 404)
  })
})

describe('direct uploads on local files', () => {
  let t: RecordsApp
  before(async () => {
    t = await startRecordsApp('sqlite')
  })
  after(async () => t?.close())

  test('answer 400: the engine cannot sign URLs', async () => {
    const res = await t.call('POST', '/api/plinth/uploads', { token: t.su, body: { collection: 'users', record: 'x', field: 'avatar', name: 'a.png', size: 10, type: 'image/png' } })
    assert.equal(res.status, 400)
    assert.match(String(res.body.message), /sign URLs/)
  })
})
