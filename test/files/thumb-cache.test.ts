/** Served thumbs kept in memory, and the local engine's one-read path for small known objects. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { localStore } from '../../src/files/local.ts'
import { ThumbCache } from '../../src/files/thumb-cache.ts'
import { startRecordsApp } from '../api/records-app.ts'
import { formData, png } from '../helpers/files.ts'

const entry = (key: string, n: number) => ({ object: { key, size: n, modified: new Date(0) }, type: 'image/png', bytes: Buffer.alloc(n) })

test('thumb cache: bounded by total bytes, least recently used out first; big entries and a zero budget keep nothing', () => {
  const c = new ThumbCache({ maxBytes: 100, maxEntryBytes: 40 })
  c.set('a', entry('a', 40))
  c.set('b', entry('b', 40))
  assert.ok(c.get('a'), 'a is now the most recently used')
  c.set('c', entry('c', 40))
  assert.equal(c.get('b'), undefined, 'b was the least recently used')
  assert.ok(c.get('a') && c.get('c'))
  assert.equal(c.size, 80)
  c.set('big', entry('big', 41))
  assert.equal(c.get('big'), undefined)
  c.set('a', entry('a', 10))
  assert.equal(c.size, 50, 'a replaced, not counted twice')
  const off = new ThumbCache({ maxBytes: 0 })
  off.set('a', entry('a', 1))
  assert.equal(off.get('a'), undefined)
})

test('local engine: a known small object is read whole at once; a stale `known` falls back to a fresh look', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-known-'))
  try {
    const store = localStore({ dir })
    await store.put('c/r/a.txt', Buffer.from('hello'))
    const known = (await store.stat('c/r/a.txt'))!
    const got = await store.read('c/r/a.txt', undefined, known)
    assert.equal(got?.bytes?.toString(), 'hello')
    await store.put('c/r/a.txt', Buffer.from('hello, again'))
    const again = await store.read('c/r/a.txt', undefined, known)
    assert.equal(again?.size, 12, 'the size it has now')
    assert.equal(again?.bytes, undefined)
    const chunks: Buffer[] = []
    for await (const ch of again!.body) chunks.push(ch as Buffer)
    assert.equal(Buffer.concat(chunks).toString(), 'hello, again')
    await store.delete('c/r/a.txt')
    assert.equal(await store.read('c/r/a.txt', undefined, known), null)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a served thumb comes from memory afterwards, with the same headers, ranges, 304 and HEAD; the record still decides', async () => {
  const t = await startRecordsApp('sqlite')
  try {
    const { id: cid } = await t.collection({ name: 'pics', type: 'base', viewRule: '', createRule: '', updateRule: '', fields: [{ name: 'img', type: 'file', maxSelect: 1, thumbs: ['40x40'] }] })
    const { payload, contentType } = formData([{ name: 'img', file: { filename: 'a.png', data: await png(200, 100) } }])
    const created = await t.app.http.inject({ method: 'POST', url: '/api/collections/pics/records', payload, headers: { 'content-type': contentType } })
    const rec = JSON.parse(created.body) as { id: string; img: string }
    const url = `/api/files/pics/${rec.id}/${rec.img}?thumb=40x40`
    const get = (headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => t.app.http.inject({ method, url, headers })
    const first = await get()
    assert.equal(first.statusCode, 200)
    const fromStorage = await get()
    assert.ok(fromStorage.rawPayload.equals(first.rawPayload))
    // Gone from storage behind Plinth's back: the record still holds the original, so memory serves it.
    await t.app.files.delete(`${cid}/${rec.id}/thumbs_${rec.img}/40x40_${rec.img}`)
    const cached = await get()
    assert.equal(cached.statusCode, 200)
    assert.ok(cached.rawPayload.equals(first.rawPayload))
    for (const h of ['content-type', 'content-disposition', 'content-security-policy', 'cache-control', 'etag', 'last-modified', 'content-length']) {
      assert.equal(cached.headers[h], fromStorage.headers[h], h)
    }
    const part = await get({ range: 'bytes=0-7' })
    assert.equal(part.statusCode, 206)
    assert.equal(part.headers['content-range'], `bytes 0-7/${first.rawPayload.length}`)
    assert.ok(part.rawPayload.equals(first.rawPayload.subarray(0, 8)))
    assert.equal((await get({ 'if-none-match': String(first.headers.etag) })).statusCode, 304)
    const head = await get({}, 'HEAD')
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['content-length'], String(first.rawPayload.length))
    assert.equal(head.rawPayload.length, 0)
    // The record lets go of the file: 404, whatever memory holds.
    const cleared = await t.call('PATCH', `/api/collections/pics/records/${rec.id}`, { body: { img: null } })
    assert.equal(cleared.status, 200, cleared.raw)
    assert.equal((await get()).statusCode, 404)
  } finally {
    await t.close()
  }
})
