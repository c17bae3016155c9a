/**
 * The files port's contract with large inputs, over every engine (test/helpers/files-engines.ts):
 * bodies of several 8 MiB parts, ranges across a part boundary, failing and oversized streams,
 * listing and deleting more than one page (1000 keys), presigned uploads.
 *
 * The S3 engine runs against s3rver started here on an unused port (data in a temp folder),
 * reached through a proxy that checks presigned URLs' SigV4 signatures: s3rver itself accepts any
 * V4 signature, so without the proxy a wrong Content-Length would not be refused.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { FileStore } from '../../src/files/files.ts'
import { TooLargeError } from '../../src/files/local.ts'
import { PART_BYTES } from '../../src/files/s3.ts'
import { filesEngines, keys, type FilesEngine } from '../helpers/files-engines.ts'

/** `size` pseudo-random bytes as a stream of 64 KiB chunks, failing after `failAt` bytes when given. */
function bytesStream(seed: Buffer, size: number, failAt?: number): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (failAt !== undefined && sent >= failAt) return this.destroy(new Error('client went away'))
      if (sent >= size) return this.push(null)
      const n = Math.min(65536, size - sent)
      this.push(chunkAt(seed, sent, n))
      sent += n
    },
  })
}
/** Deterministic bytes at an offset, so a reader can check any range without holding the whole body. */
function chunkAt(seed: Buffer, offset: number, n: number): Buffer {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = seed[(offset + i) % seed.length]! ^ ((offset + i) >>> 8)
  return out
}
async function sha256(body: Readable): Promise<string> {
  const h = createHash('sha256')
  for await (const c of body) h.update(c as Buffer)
  return h.digest('hex')
}
async function bytes(body: Readable): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const c of body) out.push(c as Buffer)
  return Buffer.concat(out)
}
/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!)
  }))
}

/** A raw PUT (node:http, so the Content-Length sent may differ from the signed one). */
function rawPut(url: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

function filesContractMore({ name, make, skip }: FilesEngine): void {
  describe(`files contract, many parts and pages: ${name}`, { skip }, () => {
    let store: FileStore
    let close: () => Promise<void>
    const seed = randomBytes(4099)

    before(async () => ({ store, close } = await make()))
    after(async () => {
      await store.close()
      await close()
    })

    test('put, read, stat and delete one object', async () => {
      const body = Buffer.from('hello, plinth')
      assert.deepEqual(await store.put('c1/r1/hello.txt', body, { contentType: 'text/plain' }), { size: body.length })
      const read = await store.read('c1/r1/hello.txt')
      assert.ok(read)
      assert.deepEqual(await bytes(read.body), body)
      assert.equal(read.size, body.length)
      const stat = await store.stat('c1/r1/hello.txt')
      assert.equal(stat?.size, body.length)
      assert.equal(stat?.key, 'c1/r1/hello.txt')
      assert.ok(stat?.modified instanceof Date)
      if (stat?.contentType !== undefined) assert.equal(stat.contentType, 'text/plain')
      await store.put('c1/r1/hello.txt', Buffer.from('replaced'))
      assert.equal((await store.stat('c1/r1/hello.txt'))?.size, 8)
      await store.delete('c1/r1/hello.txt')
      assert.equal(await store.read('c1/r1/hello.txt'), null)
      assert.equal(await store.stat('c1/r1/hello.txt'), null)
      await store.delete('c1/r1/hello.txt') // missing: no error
    })

    test('a stream of several parts is stored whole', async () => {
      const size = 2 * PART_BYTES + 12345
      const expected = await sha256(bytesStream(seed, size))
      assert.deepEqual(await store.put('big/r/file.bin', bytesStream(seed, size), { contentType: 'application/octet-stream', maxBytes: size }), { size })
      assert.equal((await store.stat('big/r/file.bin'))?.size, size)
      const read = await store.read('big/r/file.bin')
      assert.equal(await sha256(read!.body), expected)
      // An empty stream and one of exactly one part are objects too.
      assert.deepEqual(await store.put('big/r/empty', Readable.from([])), { size: 0 })
      assert.equal((await store.stat('big/r/empty'))?.size, 0)
      assert.deepEqual(await store.put('big/r/one-part', bytesStream(seed, PART_BYTES)), { size: PART_BYTES })
      assert.equal((await store.stat('big/r/one-part'))?.size, PART_BYTES)
      await store.deletePrefix('big/')
    })

    test('ranges: both ends inclusive, the size is the whole object', async () => {
      const size = PART_BYTES + 1000
      await store.put('range/r/f', bytesStream(seed, size))
      // Not bytes=0-0: s3rver 3.7.1 reads its end 0 as "to the end" (real S3 answers one byte).
      for (const [start, end] of [[1, 1], [0, 9], [10, 19], [PART_BYTES - 5, PART_BYTES + 5], [size - 3, size - 1]] as const) {
        const read = await store.read('range/r/f', { start, end })
        assert.ok(read)
        assert.equal(read.size, size)
        assert.deepEqual(await bytes(read.body), chunkAt(seed, start, end - start + 1), `bytes ${start}-${end}`)
      }
      assert.equal(await store.read('range/r/missing', { start: 0, end: 1 }), null)
      await store.delete('range/r/f')
    })

    test('a failing stream stores nothing, and leaves an older object as it was', async () => {
      await store.put('fail/r/old', Buffer.from('old'))
      for (const [size, failAt] of [[1000, 500], [3 * PART_BYTES, PART_BYTES + 100]] as const) {
        await assert.rejects(store.put('fail/r/new', bytesStream(seed, size, failAt)), /client went away/)
        await assert.rejects(store.put('fail/r/old', bytesStream(seed, size, failAt)), /client went away/)
      }
      assert.equal(await store.stat('fail/r/new'), null)
      assert.deepEqual(await bytes((await store.read('fail/r/old'))!.body), Buffer.from('old'))
      assert.deepEqual(await keys(store, 'fail/'), ['fail/r/old'])
      await store.deletePrefix('fail/')
    })

    test('a body over maxBytes is refused and nothing is stored', async () => {
      const limit = PART_BYTES + 10
      await assert.rejects(store.put('max/r/f', bytesStream(seed, 2 * PART_BYTES), { maxBytes: limit }), TooLargeError)
      await assert.rejects(store.put('max/r/g', bytesStream(seed, 20), { maxBytes: 19 }), TooLargeError)
      await assert.rejects(store.put('max/r/h', Buffer.alloc(20), { maxBytes: 19 }), TooLargeError)
      assert.deepEqual(await keys(store, 'max/'), [])
      // Exactly maxBytes is fine.
      assert.deepEqual(await store.put('max/r/i', bytesStream(seed, 19), { maxBytes: 19 }), { size: 19 })
      await store.deletePrefix('max/')
    })

    test('list is in key order across pages; deletePrefix pages through more than 1000 objects', async () => {
      const names = Array.from({ length: 1050 }, (_, i) => `many/r/${String(i).padStart(5, '0')}`)
      const shuffled = [...names].sort(() => Math.random() - 0.5)
      await inParallel(shuffled, 16, (k) => store.put(k, Buffer.from(k)))
      await store.put('many-sibling/r/a', Buffer.from('x'))
      await store.put('other/r/a', Buffer.from('x'))
      const listed: string[] = []
      for await (const o of store.list('many/')) {
        listed.push(o.key)
        assert.equal(o.size, o.key.length)
      }
      assert.deepEqual(listed, names)
      const all = await keys(store, '')
      assert.deepEqual(all, [...all].sort())
      assert.equal(await store.deletePrefix('many/'), names.length)
      assert.deepEqual(await keys(store, 'many'), ['many-sibling/r/a'])
      assert.equal(await store.deletePrefix('many/'), 0)
      await store.deletePrefix('many-sibling/')
      await store.deletePrefix('other/')
    })

    test('unsafe keys are refused before storage is touched', async () => {
      for (const key of ['../x', '/abs', 'a/../b', 'a//b', 'a/./b', 'a\\b', 'a\0b', '', 'a/']) {
        await assert.rejects(store.put(key, Buffer.from('x')), /unsafe key/, key)
        await assert.rejects(store.read(key), /unsafe key/, key)
        await assert.rejects(store.stat(key), /unsafe key/, key)
        await assert.rejects(store.delete(key), /unsafe key/, key)
      }
      await assert.rejects(store.deletePrefix('../'))
      await assert.rejects(store.deletePrefix('a'))
      await assert.rejects(store.deletePrefix('/'))
    })

    test('a presigned PUT takes exactly the signed length and type', async (t) => {
      if (!store.presignPut) return t.skip(`${store.name} cannot sign upload URLs`)
      const body = Buffer.from('{"uploaded":true}')
      const signed = await store.presignPut('up/r/a.json', { size: body.length, contentType: 'application/json', expiresInSeconds: 300 })
      assert.equal(signed.method, 'PUT')
      assert.ok(signed.expiresAt.getTime() > Date.now())
      assert.equal(new URL(signed.url).searchParams.get('X-Amz-SignedHeaders'), 'content-length;content-type;host')
      // A wrong length, or a wrong type, is refused (by the signature) and stores nothing.
      const longer = Buffer.concat([body, Buffer.from(' ')])
      assert.equal(await rawPut(signed.url, { ...signed.headers, 'Content-Length': String(longer.length) }, longer), 403)
      assert.equal(await rawPut(signed.url, { ...signed.headers, 'Content-Type': 'text/html' }, body), 403)
      assert.equal(await store.stat('up/r/a.json'), null)
      // What a client does with the URL and headers it was given.
      const res = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body })
      assert.equal(res.status, 200, await res.text())
      const stat = await store.stat('up/r/a.json')
      assert.equal(stat?.size, body.length)
      assert.equal(stat?.contentType, 'application/json')
      await store.delete('up/r/a.json')
    })
  })
}

for (const engine of filesEngines) filesContractMore(engine)
