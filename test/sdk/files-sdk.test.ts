/**
 * PocketBase's JS SDK with files against a listening Plinth: `create(FormData)` with Blobs,
 * `files.getURL` with thumbs, `files.getToken` for protected files; and, over a raw socket, an
 * upload over its field's maxSize answered 413 while most of the body is still unsent.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import PocketBase, { ClientResponseError } from 'pocketbase'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { png, storedKeys } from '../helpers/files.ts'

describe('PocketBase SDK with files', () => {
  let dir: string
  let app: Plinth
  let url: string
  let pb: PocketBase

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-sdk-files-'))
    app = await createPlinth({
      config: { cwd: dir, env: {}, overrides: { dir, http: '127.0.0.1:0', logLevel: 'silent' } },
      logger: createLogger({ logLevel: 'silent' }),
    })
    url = await app.start()
    await createSuperuser(app.records, 'root@example.com', 'root-password-1')
    pb = new PocketBase(url)
    pb.autoCancellation(false)
    await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
    await pb.collections.create({
      name: 'albums', type: 'base', listRule: '', viewRule: '@request.auth.id != ""', createRule: '', updateRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'cover', type: 'file', maxSelect: 1, thumbs: ['40x40'], maxSize: 10_000_000 },
        { name: 'private', type: 'file', maxSelect: 2, protected: true, maxSize: 1000 },
      ],
    })
  })
  after(async () => {
    await app?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  test('create with FormData, getURL with a thumb, getToken for a protected file, append and remove', async () => {
    const image = await png(120, 80)
    const form = new FormData()
    form.append('title', 'trip')
    form.append('cover', new Blob([image], { type: 'image/png' }), 'cover.png')
    form.append('private', new Blob(['one']), 'one.txt')
    const rec = await pb.collection('albums').create(form)
    assert.match(rec.cover, /^cover_[a-z0-9]{10}\.png$/)
    assert.equal(rec.private.length, 1)

    const guest = new PocketBase(url)
    const original = await fetch(guest.files.getURL(rec, rec.cover))
    assert.equal(original.headers.get('content-type'), 'image/png')
    assert.ok(Buffer.from(await original.arrayBuffer()).equals(image))
    const thumb = await fetch(guest.files.getURL(rec, rec.cover, { thumb: '40x40' }))
    const { default: sharp } = await import('sharp')
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()
    assert.deepEqual([meta.width, meta.height], [40, 40])

    assert.equal((await fetch(guest.files.getURL(rec, rec.private[0]))).status, 404)
    const token = await pb.files.getToken()
    const secret = await fetch(pb.files.getURL(rec, rec.private[0], { token }))
    assert.equal(secret.status, 200)
    assert.equal(await secret.text(), 'one')
    await assert.rejects(guest.files.getToken(), (err: ClientResponseError) => err.status === 401)

    const more = await pb.collection('albums').update(rec.id, { 'private+': new File(['two'], 'two.txt') })
    assert.equal(more.private.length, 2)
    const fewer = await pb.collection('albums').update(rec.id, { 'private-': [rec.private[0]], cover: null })
    assert.deepEqual(fewer.private, [more.private[1]])
    assert.equal(fewer.cover, '')
    assert.deepEqual(await storedKeys(app.files, `${rec.collectionId}/${rec.id}/`), [`${rec.collectionId}/${rec.id}/${more.private[1]}`])
  })

  test('an upload over maxSize is answered 413 while most of the body is unsent; nothing is stored', async () => {
    const before = await storedKeys(app.files)
    const { port } = new URL(url)
    const boundary = 'plinthbound'
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="private"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n`
    const declared = 64 << 20
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1')
      let got = ''
      socket.on('data', (d) => (got += d.toString('latin1')))
      socket.on('close', () => resolve(got))
      socket.on('error', (err) => (got ? resolve(got) : reject(err)))
      socket.write(
        `POST /api/collections/albums/records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n` +
          `Content-Length: ${declared}\r\nAuthorization: ${pb.authStore.token}\r\n\r\n${head}`,
      )
      // 64 KiB of the declared 64 MiB: far over the field's 1000 bytes, far under the body.
      socket.write(Buffer.alloc(64 << 10, 97))
    })
    assert.match(reply, /^HTTP\/1\.1 413 /)
    assert.match(reply, /connection: close/i)
    assert.deepEqual(await storedKeys(app.files), before)
  })
})
