/**
 * Files beyond base records: a view collection's file columns are served through /api/files from
 * the source record's storage with the view's rules (views of views too, as PocketBase's
 * FindRecordByViewFile); and auth responses carry `@files` CDN URLs like other record responses.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { signRecordToken } from '../../src/auth/tokens.ts'
import type { AuthCollection } from '../../src/records/model.ts'
import { formData, png, storedKeys } from '../helpers/files.ts'
import { startRecordsApp, type RecordsApp } from './records-app.ts'

const CDN = { baseUrl: 'https://cdn.example.com/media', signer: 'nginx', key: 'k', ttlSeconds: 600, expression: '$secure_link_expires$uri $key' }

describe('files of view collections and of auth records', () => {
  let t: RecordsApp
  let cid: string
  let post: { id: string; cover: string; docs: string[]; secret: string }
  let image: Buffer
  const get = (url: string) => t.app.http.inject({ method: 'GET', url })

  before(async () => {
    t = await startRecordsApp('sqlite', { cdn: CDN })
    image = await png(240, 160)
    cid = (await t.collection({
      name: 'posts', type: 'base', listRule: '', viewRule: '', createRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'cover', type: 'file', maxSelect: 1 },
        { name: 'docs', type: 'file', maxSelect: 3 },
        { name: 'secret', type: 'file', maxSelect: 1, protected: true },
      ],
    })).id
    const { payload, contentType } = formData([
      { name: 'title', value: 'one' },
      { name: 'cover', file: { filename: 'cover.png', data: image } },
      { name: 'docs', file: { filename: 'a.txt', data: Buffer.from('doc a') } },
      { name: 'docs', file: { filename: 'b.txt', data: Buffer.from('doc b') } },
      { name: 'secret', file: { filename: 's.txt', data: Buffer.from('top secret') } },
    ])
    const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/posts/records', payload, headers: { 'content-type': contentType } })
    assert.equal(res.statusCode, 200, res.body)
    post = JSON.parse(res.body) as typeof post
    await t.collection({ name: 'post_files', type: 'view', listRule: '', viewRule: '', viewQuery: 'select p.id, p.cover as pic, p.docs, p.secret from posts p' })
    await t.collection({ name: 'post_pics', type: 'view', listRule: '', viewRule: '', viewQuery: 'select id, pic from post_files' })
    // Only signed-in users see this one: its protected file then needs a token of one.
    await t.collection({ name: 'private_files', type: 'view', listRule: '@request.auth.id != ""', viewRule: '@request.auth.id != ""', viewQuery: 'select id, secret from posts' })
  })
  after(async () => t?.close())

  test('a view\'s file columns are served from the source record; thumbs are kept under the source', async () => {
    const cover = await get(`/api/files/post_files/${post.id}/${post.cover}`)
    assert.equal(cover.statusCode, 200)
    assert.ok(cover.rawPayload.equals(image))
    assert.equal(cover.headers['content-type'], 'image/png')
    assert.equal((await get(`/api/files/post_files/${post.id}/${post.docs[1]}`)).body, 'doc b', 'a multi-file column')
    const thumb = await get(`/api/files/post_files/${post.id}/${post.cover}?thumb=100x100`)
    assert.equal(thumb.statusCode, 200)
    assert.deepEqual(await storedKeys(t.app.files, `${cid}/${post.id}/thumbs_`), [`${cid}/${post.id}/thumbs_${post.cover}/100x100_${post.cover}`])
    assert.ok((await get(`/api/files/post_pics/${post.id}/${post.cover}`)).rawPayload.equals(image), 'a view of a view')
    // A name the view's record does not hold, or a record not in the view: 404.
    assert.equal((await get(`/api/files/post_pics/${post.id}/${post.docs[0]}`)).statusCode, 404)
    assert.equal((await get(`/api/files/post_files/nosuchrecord000/${post.cover}`)).statusCode, 404)
  })

  test('a view\'s protected file is judged by the view\'s own view rule, with the file token\'s record', async () => {
        const user = await t.user('viewer@example.com')
    const users = t.app.collections.getOrThrow('users') as AuthCollection
    const row = await t.app.sql.writer().db.selectFrom('users').select(['id', 'tokenKey']).where('id', '=', user.id).executeTakeFirstOrThrow() as { id: string; tokenKey: string }
    const token = await signRecordToken(users, row, 'file')
    // post_files' view rule lets anyone see its records, so (as in PocketBase) no token is needed there.
    assert.equal((await get(`/api/files/post_files/${post.id}/${post.secret}`)).body, 'top secret')
    assert.equal((await get(`/api/files/private_files/${post.id}/${post.secret}`)).statusCode, 404, 'the view rule refuses a guest')
    assert.equal((await get(`/api/files/private_files/${post.id}/${post.secret}?token=${token}`)).body, 'top secret')
  })

  test('auth responses carry @files like other record responses', async () => {
    // PocketBase's default users collection has an `avatar` file field.
    const users = await t.call('GET', '/api/collections/users', { token: t.su })
    const { payload, contentType } = formData([
      { name: 'email', value: 'pic@example.com' }, { name: 'password', value: 'password-123' }, { name: 'passwordConfirm', value: 'password-123' },
      { name: 'avatar', file: { filename: 'me.png', data: image } },
    ])
    const created = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload, headers: { 'content-type': contentType } })
    assert.equal(created.statusCode, 200, created.body)
    const { id, avatar } = JSON.parse(created.body) as { id: string; avatar: string }
    const auth = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'pic@example.com', password: 'password-123' } })
    assert.equal(auth.status, 200, auth.raw)
    const record = auth.body.record as Record<string, unknown>
    assert.equal(record.avatar, avatar, 'the field stays the file name')
    const url = new URL((record['@files'] as { avatar: string }).avatar)
    assert.equal(url.origin + url.pathname, `https://cdn.example.com/media/${String(users.body.id)}/${id}/${avatar}`)
    assert.ok(url.searchParams.get('md5') && url.searchParams.get('expires'))
    const refreshed = await t.call('POST', '/api/collections/users/auth-refresh', { token: String(auth.body.token) })
    assert.equal(refreshed.status, 200, refreshed.raw)
    assert.ok((refreshed.body.record as Record<string, unknown>)['@files'])
    const picked = await t.call('POST', '/api/collections/users/auth-with-password?fields=record.id', { body: { identity: 'pic@example.com', password: 'password-123' } })
    assert.deepEqual(picked.body, { record: { id } }, '`fields` still picks')
  })
})
