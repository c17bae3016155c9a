/**
 * The files port's contract: every engine runs the same suite through a factory.
 *
 * The engines (local, S3 on s3rver) are in test/helpers/files-engines.ts; files-large.test.ts
 * runs the same engines through multipart bodies, ranges across parts, and paging.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { afterEach, beforeEach, describe, test } from 'node:test'
import type { FileStore } from '../../src/files/files.ts'
import { localStore } from '../../src/files/local.ts'
import { filesEngines as engines, keys } from '../helpers/files-engines.ts'

/** A stream of `n` chunks of `size` bytes, failing after `failAfter` chunks when given. */
function chunks(n: number, size: number, failAfter?: number): Readable {
  let i = 0
  return new Readable({
    read() {
      if (failAfter !== undefined && i === failAfter) return this.destroy(new Error('client went away'))
      this.push(i++ < n ? Buffer.alloc(size, 97) : null)
    },
  })
}

for (const engine of engines) {
  describe(`files contract: ${engine.name}`, { skip: engine.skip }, () => {
    let store: FileStore
    let close: () => Promise<void>
    beforeEach(async () => {
      ;({ store, close } = await engine.make())
    })
    afterEach(async () => {
      await store.close()
      await close()
    })

    test('put then read, stat and a byte range', async () => {
      const { size } = await store.put('c1/r1/a.txt', Buffer.from('hello world'), { contentType: 'text/plain' })
      assert.equal(size, 11)
      const whole = await store.read('c1/r1/a.txt')
      assert.equal(await text(whole!.body), 'hello world')
      assert.equal(whole!.size, 11)
      const part = await store.read('c1/r1/a.txt', { start: 6, end: 10 })
      assert.equal(await text(part!.body), 'world')
      const s = await store.stat('c1/r1/a.txt')
      assert.equal(s!.size, 11)
      assert.ok(s!.modified instanceof Date)
      assert.equal(await store.stat('c1/r1/missing.txt'), null)
      assert.equal(await store.read('c1/r1/missing.txt'), null)
    })

    test('a put replaces; a stream body is stored whole', async () => {
      await store.put('c/r/f', Buffer.from('old'))
      const { size } = await store.put('c/r/f', chunks(64, 16 * 1024))
      assert.equal(size, 64 * 16 * 1024)
      assert.equal((await store.stat('c/r/f'))!.size, size)
    })

    test('over maxBytes or a failing body: nothing stored, the old object kept', async () => {
      await assert.rejects(store.put('c/r/big', chunks(10, 1024), { maxBytes: 5000 }))
      assert.equal(await store.stat('c/r/big'), null)
      await store.put('c/r/keep', Buffer.from('kept'))
      await assert.rejects(store.put('c/r/keep', chunks(10, 1024, 3)))
      assert.equal(await text((await store.read('c/r/keep'))!.body), 'kept')
      assert.deepEqual(await keys(store, ''), ['c/r/keep'])
    })

    test('unsafe keys are refused before touching storage', async () => {
      for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a\0b', 'a//b', 'a\\b', '', './a']) {
        await assert.rejects(store.put(key, Buffer.from('x')), /unsafe key/, key)
        await assert.rejects(store.read(key), /unsafe key/, key)
        await assert.rejects(store.delete(key), /unsafe key/, key)
      }
    })

    test('list is in key order under a prefix; delete and deletePrefix', async () => {
      for (const k of ['b/2/x', 'a/1/z', 'a/1/thumbs_z/10x10_z', 'a/1-b', 'a/10/y', 'a/1/a']) await store.put(k, Buffer.from(k))
      assert.deepEqual(await keys(store, ''), ['a/1-b', 'a/1/a', 'a/1/thumbs_z/10x10_z', 'a/1/z', 'a/10/y', 'b/2/x'])
      assert.deepEqual(await keys(store, 'a/1/'), ['a/1/a', 'a/1/thumbs_z/10x10_z', 'a/1/z'])
      assert.deepEqual(await keys(store, 'a/1'), ['a/1-b', 'a/1/a', 'a/1/thumbs_z/10x10_z', 'a/1/z', 'a/10/y'])
      await store.delete('a/1/a')
      await store.delete('a/1/a') // missing: no error
      assert.equal(await store.deletePrefix('a/1/'), 2)
      assert.deepEqual(await keys(store, ''), ['a/1-b', 'a/10/y', 'b/2/x'])
      assert.equal(await store.deletePrefix('nothing/'), 0)
    })
  })
}

test('local: a failed put leaves no temp file behind', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-files-'))
  try {
    const store = localStore({ dir })
    await assert.rejects(store.put('c/r/f', chunks(10, 1024), { maxBytes: 100 }))
    assert.deepEqual(readdirSync(path.join(dir, 'c', 'r')), [])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
