import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { hashPassword, verifyPassword } from '../../src/auth/index.ts'

describe('password hashing (scrypt)', () => {
  test('hash is self-describing and salted; verify accepts the right password only', async () => {
    const a = await hashPassword('correct horse battery staple')
    const b = await hashPassword('correct horse battery staple')
    assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    assert.notEqual(a, b, 'two hashes of one password differ (random salt)')
    assert.equal(await verifyPassword('correct horse battery staple', a), true)
    assert.equal(await verifyPassword('correct horse battery stapl', a), false)
    assert.equal(await verifyPassword('', a), false)
  })

  test('unicode passwords are normalised (NFC) before hashing', async () => {
    const h = await hashPassword('caf\u00e9')
    assert.equal(await verifyPassword('cafe\u0301', h), true)
  })

  test('verify rejects malformed, foreign and hostile hashes without throwing', async () => {
    const good = await hashPassword('pw')
    const [, n, r, p, salt, key] = good.split('$')
    const bad = [
      '',
      'plain',
      '$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234', // bcrypt
      `scrypt$${n}$${r}$${p}$${salt}`, // missing part
      `scrypt$${n}$${r}$${p}$${salt}$${key}$extra`,
      `scrypt$12345$${r}$${p}$${salt}$${key}`, // N not a power of two
      `scrypt$${1 << 24}$${r}$${p}$${salt}$${key}`, // N too large: would allocate GBs
      `scrypt$${n}$999$${p}$${salt}$${key}`,
      `scrypt$${n}$${r}$${p}$!!!$${key}`,
      `scrypt$${n}$${r}$${p}$${salt}$short`,
      `scrypt$-1$${r}$${p}$${salt}$${key}`,
    ]
    for (const h of bad) assert.equal(await verifyPassword('pw', h), false, h)
    // @ts-expect-error: a non-string from a corrupt row
    assert.equal(await verifyPassword('pw', null), false)
  })

  test('hashes carry memory-hard parameters (N >= 2^14, r >= 8: 16 MiB per hash)', async () => {
    // Guards against the parameters silently dropping to a trivial cost, without timing anything.
    const [alg, n, r, p] = (await hashPassword('cost')).split('$')
    assert.equal(alg, 'scrypt')
    assert.ok(Number(n) >= 1 << 14 && Number(r) >= 8 && Number(p) >= 1, `${n} ${r} ${p}`)
  })
})
