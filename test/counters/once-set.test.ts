/**
 * The memory engine's spent keys (`once-set.ts`): HalfSipHash against the reference vectors, and
 * the fingerprint table at sizes where a slip (a lost key, a probe past the end, a sweep that
 * stalls, keys on the JS heap) would show.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { halfSipHash64 } from '../../src/counters/halfsiphash.ts'
import { OnceSet } from '../../src/counters/once-set.ts'

/** HalfSipHash-2-4, 64-bit output: key 00..07, message 00..(n-1), from the reference implementation's vectors.h. */
const VECTORS: Record<number, string> = {
  0: '218d1f59b9b83cc8',
  1: 'be552412f8387315',
  2: '064f39ef7c50eb57',
  7: 'ff202728b07bc684',
  15: '217d0bcb4e81c902',
  63: '2ea63c71bf326087',
}

describe('HalfSipHash-2-4 (64-bit output)', () => {
  test('reproduces the reference vectors, for every tail length', () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => i)
    const out = new Uint32Array(2)
    for (const [n, hex] of Object.entries(VECTORS)) {
      halfSipHash64(0x03020100, 0x07060504, data, Number(n), out)
      const bytes = Buffer.alloc(8)
      bytes.writeUInt32LE(out[0]!, 0)
      bytes.writeUInt32LE(out[1]!, 4)
      assert.equal(bytes.toString('hex'), hex, `message of ${n} bytes`)
    }
  })

  test('another key gives another output', () => {
    const data = Uint8Array.from([1, 2, 3])
    const [a, b] = [new Uint32Array(2), new Uint32Array(2)]
    halfSipHash64(0x03020100, 0x07060504, data, 3, a)
    halfSipHash64(0x03020100, 0x07060505, data, 3, b)
    assert.notDeepEqual([...a], [...b])
  })
})

describe('OnceSet', () => {
  test('300 000 keys are each spent once: none is lost as the table grows, none is refused as a false replay', () => {
    const set = new OnceSet()
    const n = 300_000
    for (let i = 0; i < n; i++) assert.equal(set.spend(`sig:nonce:k${i % 97}:${i}`, 600_000, 0, n), true)
    assert.equal(set.size, n)
    for (let i = 0; i < n; i++) assert.equal(set.spend(`sig:nonce:k${i % 97}:${i}`, 600_000, 1, n), false)
    assert.equal(set.spend('one more', 600_000, 1, n), 'full', 'at the cap with every key live')
  })

  test('keys that differ only in a non-ASCII character, or are longer than the scratch buffer, are told apart', () => {
    const set = new OnceSet()
    const long = 'x'.repeat(10_000)
    for (const k of ['nonce-é', 'nonce-e', 'nonce-😀', long, `${long}y`, '']) assert.equal(set.spend(k, 1_000, 0, 100), true, k.slice(0, 20))
    for (const k of ['nonce-é', 'nonce-😀', long, '']) assert.equal(set.spend(k, 1_000, 0, 100), false, k.slice(0, 20))
  })

  test('a key is spent until exactly its expiry, then spendable again (also before a sweep reached it)', () => {
    const set = new OnceSet()
    set.spend('day', 86_400_000, 0, 10) // a long-lived key in front, so the short one is not swept at once
    assert.equal(set.spend('k', 1_000, 0, 10), true)
    assert.equal(set.spend('k', 1_000, 999, 10), false)
    assert.equal(set.spend('k', 5_000, 1_000, 10), true)
    assert.equal(set.spend('k', 5_000, 5_999, 10), false)
    assert.equal(set.spend('k', 5_000, 6_000, 10), true)
  })

  test('keys past a swept one in a probe chain are still found (deleted slots do not end a chain)', () => {
    const set = new OnceSet()
    // 500 keys in the smallest table (1024 slots): chains run through one another.
    for (let i = 0; i < 250; i++) {
      assert.equal(set.spend(`short${i}`, 1_000, 0, 1_000), true)
      assert.equal(set.spend(`long${i}`, 60_000, 0, 1_000), true)
    }
    set.sweep(1_000)
    assert.equal(set.size, 250)
    for (let i = 0; i < 250; i++) assert.equal(set.spend(`long${i}`, 60_000, 1_000, 1_000), false, `long${i}`)
    for (let i = 0; i < 250; i++) assert.equal(set.spend(`short${i}`, 1_000, 1_000, 1_000), true, `short${i}`)
  })

  test('expired keys are swept as time passes, so the table follows the live keys down again', () => {
    const set = new OnceSet()
    set.spend('day', 86_400_000, 0, 1_000_000)
    let now = 0
    for (let i = 0; i < 200_000; i++) {
      set.spend(`short${i}`, 1_000 + (i % 1_000), now, 1_000_000) // times to live within one power of two
      if (i % 10 === 0) now++
    }
    // ~100 keys are spent per 10 ms: at most ~2 windows' worth (200 ms x 10 a ms) can be live or waiting.
    assert.ok(set.size <= 2 * 2_000 * 10 + 1, `held ${set.size}`)
    now += 10_000
    set.spend('later', 1_000, now, 1_000_000)
    assert.equal(set.size, 2, 'only the day-long key and the new one are held')
    assert.equal(set.spend('day', 86_400_000, now, 1_000_000), false)
  })

  test('a million live keys live off the JS heap', () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const set = new OnceSet()
    gc()
    const before = process.memoryUsage()
    for (let i = 0; i < 1_000_000; i++) set.spend(`sig:nonce:s_abcdefghijklmnopqrstuv:${i}`, 600_000, 0, 1_000_000)
    gc()
    const after = process.memoryUsage()
    const heapPerKey = (after.heapUsed - before.heapUsed) / 1_000_000
    const buffersPerKey = (after.arrayBuffers - before.arrayBuffers) / 1_000_000
    // As strings in a Map the same keys take ~300 bytes each, all of it on the heap.
    assert.ok(heapPerKey < 2, `heap: ${heapPerKey.toFixed(1)} bytes a key`)
    assert.ok(buffersPerKey < 80, `typed arrays: ${buffersPerKey.toFixed(1)} bytes a key`)
    assert.equal(set.size, 1_000_000)
  })
})
