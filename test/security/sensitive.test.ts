/**
 * Sensitive fields: the JWKS at /api/plinth/keys, password fields sent as compact JWE
 * (RSA-OAEP-256 + A256GCM, encrypted here with jose as a client would), plain values refused with
 * requireEncryption, and key rotation with the old key decrypting only within its grace period.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CompactEncrypt, importJWK, type JWK } from 'jose'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createPlinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { startApp, type TestApp } from '../helpers/app.ts'

async function encryptTo(jwk: JWK, value: string): Promise<string> {
  const key = await importJWK(jwk, 'RSA-OAEP-256')
  return new CompactEncrypt(new TextEncoder().encode(value)).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: jwk.kid! }).encrypt(key)
}

async function currentKey(t: Pick<TestApp, 'call'>): Promise<JWK> {
  const res = await t.call('GET', '/api/plinth/keys')
  assert.equal(res.statusCode, 200)
  const { keys } = res.json<{ keys: JWK[] }>()
  assert.equal(keys.length, 1)
  assert.equal(keys[0]!.alg, 'RSA-OAEP-256')
  assert.equal(keys[0]!.d, undefined, 'no private member is published')
  return keys[0]!
}

describe('sensitive fields, encryption optional', () => {
  let t: TestApp
  before(async () => {
    t = await startApp('sqlite')
  })
  after(() => t?.close())

  test('passwords sent as JWE are decrypted before validation; plain ones still work', async () => {
    const jwk = await currentKey(t)
    const pw = await encryptTo(jwk, 'password-123')
    const created = await t.call('POST', '/api/collections/users/records', { body: { email: 'a@example.com', password: pw, passwordConfirm: await encryptTo(jwk, 'password-123') } })
    assert.equal(created.statusCode, 200, created.body)
    const login = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'a@example.com', password: await encryptTo(jwk, 'password-123') } })
    assert.equal(login.statusCode, 200, login.body)
    assert.equal((await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'a@example.com', password: 'password-123' } })).statusCode, 200)
    // A JWE that does not decrypt (tampered tag, or to an unknown kid) is a 400 naming the field.
    const parts = pw.split('.')
    parts[4] = parts[4]!.slice(0, -2) + (parts[4]!.endsWith('AA') ? 'BB' : 'AA')
    const bad = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'a@example.com', password: parts.join('.') } })
    assert.equal(bad.statusCode, 400)
    assert.ok(bad.json<{ data: Record<string, unknown> }>().data.password)
  })

  test('text that only has a JWE\'s shape is stored as sent; a JWE of an empty value opens to the empty value', async () => {
    for (const name of ['1.3.6.1.4', 'a.b.c.d.e', 'eyJhIjoxfQ.b.c.d.e']) {
      const res = await t.call('POST', '/api/collections/users/records', { body: { email: `${name.length}-${name.slice(0, 3)}@example.com`, name, password: 'password-123', passwordConfirm: 'password-123' } })
      assert.equal(res.statusCode, 200, `${name}: ${res.body}`)
      assert.equal(res.json<{ name: string }>().name, name)
    }
    const jwk = await currentKey(t)
    const empty = await encryptTo(jwk, '')
    assert.equal(empty.split('.')[3], '', 'an empty value has an empty ciphertext part')
    const res = await t.call('POST', '/api/collections/users/records', { body: { email: 'empty@example.com', name: empty, password: 'password-123', passwordConfirm: 'password-123' } })
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.json<{ name: string }>().name, '', 'decrypted, not stored as the JWE text')
  })

  test('rotation: a new current key; the old one still decrypts within the grace period', async () => {
    const old = await currentKey(t)
    const kid = await t.app.keys.rotate()
    const now = await currentKey(t)
    assert.equal(now.kid, kid)
    assert.notEqual(now.kid, old.kid)
    const viaOld = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'a@example.com', password: await encryptTo(old, 'password-123') } })
    assert.equal(viaOld.statusCode, 200, viaOld.body)
  })
})

describe('sensitive fields, encryption required, no grace', () => {
  // Not startApp: its superuser signs in with a plain password, which this app refuses.
  let t: Pick<TestApp, 'app' | 'call'>
  let dir: string
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-sensitive-'))
    const app = await createPlinth({
      config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent', keys: { masterKey: Buffer.alloc(32, 9).toString('base64'), requireEncryption: true, graceHours: 0 } } },
      logger: createLogger({ logLevel: 'silent' }),
    })
    t = {
      app,
      call: (method, url, opts = {}) => app.http.inject({ method: method as 'GET', url, ...(opts.body === undefined ? {} : { payload: opts.body as object }) }),
    }
  })
  after(async () => {
    await t?.app.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('a plain password is refused with 400; an encrypted one is accepted', async () => {
    const plain = await t.call('POST', '/api/collections/users/records', { body: { email: 'b@example.com', password: 'password-123', passwordConfirm: 'password-123' } })
    assert.equal(plain.statusCode, 400)
    assert.ok(plain.json<{ data: Record<string, unknown> }>().data.password)
    const jwk = await currentKey(t)
    const ok = await t.call('POST', '/api/collections/users/records', { body: { email: 'b@example.com', password: await encryptTo(jwk, 'password-123'), passwordConfirm: await encryptTo(jwk, 'password-123') } })
    assert.equal(ok.statusCode, 200, ok.body)
    assert.equal((await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'b@example.com', password: 'password-123' } })).statusCode, 400)
  })

  test('with no grace period a rotated-out key no longer decrypts', async () => {
    const old = await currentKey(t)
    await t.app.keys.rotate(Date.now() - 1)
    const res = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'b@example.com', password: await encryptTo(old, 'password-123') } })
    assert.equal(res.statusCode, 400)
    const fresh = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'b@example.com', password: await encryptTo(await currentKey(t), 'password-123') } })
    assert.equal(fresh.statusCode, 200, fresh.body)
  })
})
