/**
 * CDN URLs in the records API: with `cdn.baseUrl` set, records carry `@files` with signed URLs
 * of their non-protected files (recomputed here by nginx's secure_link_md5 algorithm), in
 * create, view, list and expand; protected fields carry none; without a CDN nothing changes.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { formData, png, type FilePart } from '../helpers/files.ts'
import { startRecordsApp, type RecordsApp } from './records-app.ts'

const SECRET = 'cdn-test-secret'
const CDN = { baseUrl: 'https://cdn.example.com/media', signer: 'nginx', key: SECRET, ttlSeconds: 600, expression: '$secure_link_expires$uri $key' }

/** nginx's check, written from its docs: md5 = base64url(MD5("$expires$uri secret")) and not expired. */
function nginxAccepts(url: string, now = Date.now()): boolean {
  const u = new URL(url)
  const expires = u.searchParams.get('expires')!
  const md5 = createHash('md5').update(`${expires}${decodeURIComponent(u.pathname)} ${SECRET}`).digest('base64url')
  return md5 === u.searchParams.get('md5') && Number(expires) * 1000 > now
}

async function setUp(t: RecordsApp): Promise<{ cid: string; create: (parts: FilePart[]) => Promise<Record<string, unknown>> }> {
  const { id: cid } = await t.collection({
    name: 'posts',
    type: 'base',
    listRule: '', viewRule: '', createRule: '', updateRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'avatar', type: 'file', maxSelect: 1 },
      { name: 'docs', type: 'file', maxSelect: 5 },
      { name: 'secret', type: 'file', maxSelect: 1, protected: true },
    ],
  })
  const create = async (parts: FilePart[]) => {
    const { payload, contentType } = formData(parts)
    const res = await t.app.http.inject({ method: 'POST', url: '/api/collections/posts/records', payload, headers: { 'content-type': contentType } })
    assert.equal(res.statusCode, 200, res.body)
    return JSON.parse(res.body) as Record<string, unknown>
  }
  return { cid, create }
}

describe('records API with a CDN', () => {
  let t: RecordsApp
  let cid: string
  let create: (parts: FilePart[]) => Promise<Record<string, unknown>>
  let image: Buffer
  before(async () => {
    t = await startRecordsApp('sqlite', { cdn: CDN })
    ;({ cid, create } = await setUp(t))
    image = await png(20, 20)
  })
  after(async () => t?.close())

  test('a created record carries signed URLs of its public files; names stay names; protected fields get none', async () => {
    const rec = await create([
      { name: 'title', value: 'a' },
      { name: 'avatar', file: { filename: 'a.png', data: image, type: 'image/png' } },
      { name: 'docs', file: { filename: 'd1.png', data: image, type: 'image/png' } },
      { name: 'docs', file: { filename: 'd2.png', data: image, type: 'image/png' } },
      { name: 'secret', file: { filename: 's.png', data: image, type: 'image/png' } },
    ])
    assert.match(String(rec.avatar), /\.png$/)
    const files = rec['@files'] as Record<string, unknown>
    assert.deepEqual(Object.keys(files).sort(), ['avatar', 'docs'])
    const avatar = String(files.avatar)
    assert.ok(avatar.startsWith(`https://cdn.example.com/media/${cid}/${rec.id}/${rec.avatar}?`), avatar)
    assert.ok(nginxAccepts(avatar))
    assert.ok(!nginxAccepts(avatar, Date.now() + 601_000), 'expires after ttlSeconds')
    const docs = files.docs as string[]
    assert.equal(docs.length, 2)
    for (const [i, url] of docs.entries()) {
      assert.ok(url.includes(`/${(rec.docs as string[])[i]}?`))
      assert.ok(nginxAccepts(url))
    }
    // A tampered path fails the check.
    assert.ok(!nginxAccepts(avatar.replace(String(rec.avatar), 'other.png')))

    const view = await t.call('GET', `/api/collections/posts/records/${rec.id}`)
    assert.ok(nginxAccepts(String((view.body['@files'] as Record<string, unknown>).avatar)))
    const list = await t.call('GET', '/api/collections/posts/records')
    const items = list.body.items as Record<string, unknown>[]
    assert.ok(items.every((r) => r['@files'] && !('secret' in (r['@files'] as object))))
    const picked = await t.call('GET', `/api/collections/posts/records/${rec.id}?fields=id,@files.avatar`)
    assert.deepEqual(Object.keys(picked.body).sort(), ['@files', 'id'])
  })

  test('expanded records carry their own URLs', async () => {
    const { id: lid } = await t.collection({ name: 'links', type: 'base', viewRule: '', createRule: '', fields: [{ name: 'post', type: 'relation', collectionId: cid, maxSelect: 1 }] })
    const post = await create([{ name: 'avatar', file: { filename: 'x.png', data: image, type: 'image/png' } }])
    const link = await t.call('POST', '/api/collections/links/records', { body: { post: post.id } })
    assert.equal(link.status, 200, link.raw)
    assert.ok(lid)
    const res = await t.call('GET', `/api/collections/links/records/${link.body.id}?expand=post`)
    assert.equal(res.body['@files'], undefined, 'no file fields, no @files')
    const expanded = (res.body.expand as Record<string, Record<string, unknown>>).post!
    assert.ok(nginxAccepts(String((expanded['@files'] as Record<string, unknown>).avatar)))
  })
})

describe('records API without a CDN', () => {
  let t: RecordsApp
  let create: (parts: FilePart[]) => Promise<Record<string, unknown>>
  before(async () => {
    t = await startRecordsApp('sqlite')
    ;({ create } = await setUp(t))
  })
  after(async () => t?.close())

  test('responses carry no @files', async () => {
    const rec = await create([{ name: 'avatar', file: { filename: 'a.png', data: await png(20, 20), type: 'image/png' } }])
    assert.equal(rec['@files'], undefined)
    const view = await t.call('GET', `/api/collections/posts/records/${rec.id}`)
    assert.equal(view.body['@files'], undefined)
  })
})
