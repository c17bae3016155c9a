/**
 * File fields through the records API and the files API on every SQL engine: uploads stored under
 * their record, replaced / appended / removed / deleted files leave storage after the commit, a
 * rolled-back write leaves nothing, limits (413), magic bytes (400), ranges, protected files with
 * file tokens, thumbs and an image bomb.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { after, before, describe, test } from 'node:test'
import { engines } from '../helpers/engines.ts'
import { formData, png, pngBomb, storedKeys, type FilePart } from '../helpers/files.ts'
import { startRecordsApp, type RecordsApp } from './records-app.ts'

const uploadDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('plinth-upload-'))

for (const { engine, skip } of await engines()) {
  describe(`files API: ${engine}`, { skip }, () => {
    let t: RecordsApp
    let cid: string
    let image: Buffer
    const send = async (method: string, url: string, parts: FilePart[], token?: string) => {
      const { payload, contentType } = formData(parts)
      const res = await t.app.http.inject({ method: method as 'POST', url, payload, headers: { 'content-type': contentType, ...(token ? { authorization: token } : {}) } })
      return { status: res.statusCode, body: JSON.parse(res.body || '{}') as Record<string, unknown> & { data?: Record<string, { code: string }> }, raw: res.body }
    }
    const get = (url: string, headers: Record<string, string> = {}) => t.app.http.inject({ method: 'GET', url, headers })
    const keys = () => storedKeys(t.app.files)

    before(async () => {
      t = await startRecordsApp(engine)
      image = await png()
      cid = (await t.collection({
        name: 'posts',
        type: 'base',
        listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'avatar', type: 'file', maxSelect: 1, maxSize: 200_000, thumbs: ['50x50', '0x40', '40x0f'] },
          { name: 'docs', type: 'file', maxSelect: 5, maxSize: 1000 },
          { name: 'pic', type: 'file', maxSelect: 1, mimeTypes: ['image/png', 'image/jpeg'] },
        ],
      })).id
    })
    after(async () => t?.close())

    test('create stores the upload under its record; the file is served with its sniffed type', async () => {
      const res = await send('POST', '/api/collections/posts/records', [{ name: 'title', value: 'a' }, { name: 'avatar', file: { filename: 'My Photo.PNG', data: image, type: 'text/plain' } }])
      assert.equal(res.status, 200, res.raw)
      const name = String(res.body.avatar)
      assert.match(name, /^my_photo_[a-z0-9]{10}\.png$/)
      assert.deepEqual(await keys(), [`${cid}/${res.body.id}/${name}`])
      const file = await get(`/api/files/posts/${res.body.id}/${name}`)
      assert.equal(file.statusCode, 200)
      assert.equal(file.headers['content-type'], 'image/png')
      assert.match(String(file.headers['content-disposition']), /^inline/)
      assert.match(String(file.headers['content-security-policy']), /default-src 'none'/)
      assert.ok(file.rawPayload.equals(image))
      assert.match(String((await get(`/api/files/${cid}/${res.body.id}/${name}?download=1`)).headers['content-disposition']), new RegExp(`^attachment; filename="${name}"`))
      assert.equal((await get(`/api/files/posts/${res.body.id}/other.png`)).statusCode, 404)
      assert.equal((await get(`/api/files/posts/nosuchrecord000/${name}`)).statusCode, 404)
      await t.call('DELETE', `/api/collections/posts/records/${res.body.id}`)
      assert.deepEqual(await keys(), [])
    })

    test('replace, append, remove and clear: old files leave storage after the commit; delete removes the folder', async () => {
      const doc = (n: string) => ({ name: 'docs', file: { filename: `${n}.txt`, data: Buffer.from(`doc ${n}`) } })
      const created = await send('POST', '/api/collections/posts/records', [doc('one'), doc('two'), { name: 'avatar', file: { filename: 'a.png', data: image } }])
      assert.equal(created.status, 200, created.raw)
      const id = String(created.body.id)
      const [one, two] = created.body.docs as string[]
      const avatar = String(created.body.avatar)
      const prefix = `${cid}/${id}/`
      assert.equal((await storedKeys(t.app.files, prefix)).length, 3)
      // A thumb of the avatar, so replacing it must remove the thumbs too.
      assert.equal((await get(`/api/files/posts/${id}/${avatar}?thumb=50x50`)).statusCode, 200)
      const replaced = await send('PATCH', `/api/collections/posts/records/${id}`, [{ name: 'avatar', file: { filename: 'b.png', data: image } }])
      assert.equal(replaced.status, 200, replaced.raw)
      const appended = await send('PATCH', `/api/collections/posts/records/${id}`, [doc('three'), { name: 'docs-', value: one! }].map((p) => (p.name === 'docs' ? { ...p, name: 'docs+' } : p)))
      assert.equal(appended.status, 200, appended.raw)
      const docs = appended.body.docs as string[]
      assert.equal(docs.length, 2)
      assert.equal(docs[0], two)
      assert.deepEqual(await storedKeys(t.app.files, prefix), [prefix + String(replaced.body.avatar), ...docs.map((d) => prefix + d)].sort())
      const cleared = await t.call('PATCH', `/api/collections/posts/records/${id}`, { body: { docs: [], avatar: null } })
      assert.equal(cleared.status, 200, cleared.raw)
      assert.deepEqual(await storedKeys(t.app.files, prefix), [])
      await send('PATCH', `/api/collections/posts/records/${id}`, [doc('four')])
      assert.equal((await storedKeys(t.app.files, prefix)).length, 1)
      assert.equal((await t.call('DELETE', `/api/collections/posts/records/${id}`)).status, 204)
      assert.deepEqual(await storedKeys(t.app.files, prefix), [])
    })

    test('a write that rolls back leaves no new file and keeps the old one', async () => {
      const created = await send('POST', '/api/collections/posts/records', [{ name: 'avatar', file: { filename: 'keep.png', data: image } }])
      const id = String(created.body.id)
      const before = await keys()
      let fail = true
      t.app.hooks.onRecordCreate(async (_e, next) => {
        await next()
        if (fail) throw new Error('after the upload')
      }, 'posts')
      t.app.hooks.onRecordUpdate(async (_e, next) => {
        await next()
        if (fail) throw new Error('after the upload')
      }, 'posts')
      try {
        assert.equal((await send('POST', '/api/collections/posts/records', [{ name: 'avatar', file: { filename: 'x.png', data: image } }])).status, 500)
        assert.equal((await send('PATCH', `/api/collections/posts/records/${id}`, [{ name: 'avatar', file: { filename: 'y.png', data: image } }])).status, 500)
        assert.deepEqual(await keys(), before)
      } finally {
        fail = false
      }
      assert.equal((await get(`/api/files/posts/${id}/${String(created.body.avatar)}`)).statusCode, 200)
      assert.deepEqual(uploadDirs(), [])
    })

    test('hostile names are harmless; a part over maxSize is 413 with nothing stored; magic bytes decide the type', async () => {
      const before = await keys()
      for (const filename of ['../../../etc/passwd', '..\\..\\win.ini', 'a\0b.png', '/abs/.hidden', '..']) {
        const res = await send('POST', '/api/collections/posts/records', [{ name: 'docs', file: { filename, data: Buffer.from('x') } }])
        assert.equal(res.status, 200, `${filename}: ${res.raw}`)
        const name = (res.body.docs as string[])[0]!
        assert.match(name, /^[a-z0-9_]+_[a-z0-9]{10}(\.[a-z0-9]+)?$/, filename)
        assert.equal((await get(`/api/files/posts/${res.body.id}/${name}`)).statusCode, 200)
        await t.call('DELETE', `/api/collections/posts/records/${res.body.id}`)
      }
      const big = await send('POST', '/api/collections/posts/records', [{ name: 'title', value: 'big' }, { name: 'docs', file: { filename: 'big.txt', data: Buffer.alloc(5_000_000, 97) } }])
      assert.equal(big.status, 413, big.raw)
      const html = Buffer.from('<!doctype html><script>alert(1)</script>')
      const fake = await send('POST', '/api/collections/posts/records', [{ name: 'pic', file: { filename: 'cat.png', data: html, type: 'image/png' } }])
      assert.equal(fake.status, 400, fake.raw)
      assert.equal(fake.body.data?.pic?.code, 'validation_invalid_mime_type')
      assert.deepEqual(await keys(), before)
      assert.deepEqual(uploadDirs(), [])
      // Uploaded where no type is checked, html is served as an attachment under a sandbox CSP.
      const ok = await send('POST', '/api/collections/posts/records', [{ name: 'docs', file: { filename: 'page.html', data: html } }])
      const served = await get(`/api/files/posts/${ok.body.id}/${(ok.body.docs as string[])[0]}`)
      assert.match(String(served.headers['content-type']), /^text\/html/)
      assert.match(String(served.headers['content-disposition']), /^attachment/)
      assert.match(String(served.headers['content-security-policy']), /sandbox/)
    })

    test('ranges, validators and 304', async () => {
      const res = await send('POST', '/api/collections/posts/records', [{ name: 'docs', file: { filename: 'abc.txt', data: Buffer.from('0123456789') } }])
      const url = `/api/files/posts/${res.body.id}/${(res.body.docs as string[])[0]}`
      const whole = await get(url)
      assert.equal(whole.body, '0123456789')
      assert.equal(whole.headers['accept-ranges'], 'bytes')
      const part = await get(url, { range: 'bytes=2-4' })
      assert.equal(part.statusCode, 206)
      assert.equal(part.body, '234')
      assert.equal(part.headers['content-range'], 'bytes 2-4/10')
      assert.equal((await get(url, { range: 'bytes=-3' })).body, '789')
      assert.equal((await get(url, { range: 'bytes=7-' })).body, '789')
      const bad = await get(url, { range: 'bytes=10-20' })
      assert.equal(bad.statusCode, 416)
      assert.equal(bad.headers['content-range'], 'bytes */10')
      assert.equal((await get(url, { range: 'bytes=0-1,4-5' })).statusCode, 200)
      assert.equal((await get(url, { 'if-none-match': String(whole.headers.etag) })).statusCode, 304)
      assert.equal((await get(url, { 'if-modified-since': String(whole.headers['last-modified']) })).statusCode, 304)
      assert.equal((await get(url, { 'if-range': '"other"', range: 'bytes=2-4' })).statusCode, 200)
    })

    test('protected files: a file token whose record passes the view rule, else 404', async () => {
      const a = await t.user(`a-${engine}@example.com`)
      const b = await t.user(`b-${engine}@example.com`)
      await t.collection({
        name: 'secrets', type: 'base', viewRule: 'owner = @request.auth.id',
        fields: [{ name: 'owner', type: 'text' }, { name: 'doc', type: 'file', maxSelect: 1, protected: true }, { name: 'open', type: 'file', maxSelect: 1 }],
      })
      const rec = await send('POST', '/api/collections/secrets/records', [{ name: 'owner', value: a.id }, { name: 'doc', file: { filename: 's.txt', data: Buffer.from('secret') } }, { name: 'open', file: { filename: 'o.txt', data: Buffer.from('open') } }], t.su)
      assert.equal(rec.status, 200, rec.raw)
      const url = `/api/files/secrets/${rec.body.id}/${rec.body.doc}`
      const fileToken = async (token?: string) => {
        const res = await t.call('POST', '/api/files/token', token ? { token } : {})
        return { status: res.status, token: String(res.body.token) }
      }
      assert.equal((await fileToken()).status, 401)
      const ta = await fileToken(a.token)
      assert.equal(ta.status, 200)
      assert.equal((await get(url)).statusCode, 404)
      const seen = await get(`${url}?token=${ta.token}`)
      assert.equal(seen.statusCode, 200)
      assert.equal(seen.body, 'secret')
      assert.match(String(seen.headers['cache-control']), /^private/)
      assert.equal((await get(`${url}?token=${(await fileToken(b.token)).token}`)).statusCode, 404)
      assert.equal((await get(`${url}?token=${a.token}`)).statusCode, 404, 'an auth token is not a file token')
      assert.equal((await get(`${url}?token=${ta.token.slice(0, -2)}xx`)).statusCode, 404)
      assert.equal((await get(`${url}?token=${(await fileToken(t.su)).token}`)).statusCode, 200)
      // A file that is not protected needs no rule, even where only the owner may view the record.
      assert.equal((await get(`/api/files/secrets/${rec.body.id}/${rec.body.open}`)).body, 'open')
    })

    test('thumbs: listed sizes only, made once and kept, non-images and bombs served as they are', async () => {
      const { default: sharp } = await import('sharp')
      const rec = await send('POST', '/api/collections/posts/records', [{ name: 'avatar', file: { filename: 'pic.png', data: image } }])
      const id = String(rec.body.id)
      const name = String(rec.body.avatar)
      const url = `/api/files/posts/${id}/${name}`
      const thumbs = await Promise.all(Array.from({ length: 6 }, () => get(`${url}?thumb=50x50`)))
      for (const th of thumbs) assert.ok(th.rawPayload.equals(thumbs[0]!.rawPayload))
      const meta = await sharp(thumbs[0]!.rawPayload).metadata()
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 50, 50])
      assert.match(String(thumbs[0]!.headers['content-disposition']), new RegExp(`filename="50x50_${name}"`))
      const thumbKey = `${cid}/${id}/thumbs_${name}/50x50_${name}`
      const made = await t.app.files.stat(thumbKey)
      assert.ok(made)
      await get(`${url}?thumb=50x50`)
      assert.equal((await t.app.files.stat(thumbKey))!.modified.getTime(), made.modified.getTime(), 'served from storage, not made again')
      const tall = await sharp((await get(`${url}?thumb=0x40`)).rawPayload).metadata()
      assert.deepEqual([tall.width, tall.height], [60, 40])
      assert.deepEqual((await sharp((await get(`${url}?thumb=100x100`)).rawPayload).metadata()).width, 100, 'PocketBase\'s default size')
      assert.ok((await get(`${url}?thumb=30x30`)).rawPayload.equals(image), 'an unlisted size serves the original')
      assert.deepEqual(await storedKeys(t.app.files, `${cid}/${id}/thumbs_${name}/`), [`0x40_${name}`, `100x100_${name}`, `50x50_${name}`].map((n) => `${cid}/${id}/thumbs_${name}/${n}`))
      const doc = await send('POST', '/api/collections/posts/records', [{ name: 'docs', file: { filename: 'n.txt', data: Buffer.from('text') } }])
      assert.equal((await get(`/api/files/posts/${doc.body.id}/${(doc.body.docs as string[])[0]}?thumb=100x100`)).body, 'text')
      const bomb = pngBomb()
      const boom = await send('POST', '/api/collections/posts/records', [{ name: 'avatar', file: { filename: 'bomb.png', data: bomb } }])
      assert.equal(boom.status, 200, boom.raw)
      const before = process.memoryUsage().rss
      const served = await get(`/api/files/posts/${boom.body.id}/${boom.body.avatar}?thumb=50x50`)
      assert.equal(served.statusCode, 200)
      assert.ok(served.rawPayload.equals(bomb), 'the original, no thumb')
      assert.ok(process.memoryUsage().rss - before < 200 << 20, 'nothing near 50000x50000x3 bytes was allocated')
    })
  })
}
