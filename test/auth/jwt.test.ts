/** HS256 tokens: round trip, and every way a forged or stale token must fail. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeUnverified, signHs256, verifyHs256 } from '../../src/auth/jwt.ts'

const key = 'record-token-key' + 'collection-secret'
const exp = () => Math.floor(Date.now() / 1000) + 60
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')

test('a signed token verifies and carries its claims', () => {
  const token = signHs256({ id: 'abc', type: 'auth', exp: exp() }, key)
  assert.equal(verifyHs256(token, key)?.id, 'abc')
  assert.equal(decodeUnverified(token)?.type, 'auth')
  // The header is PocketBase's: {"alg":"HS256","typ":"JWT"}.
  assert.deepEqual(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()), { alg: 'HS256', typ: 'JWT' })
})

test('forged, tampered, expired and alg-none tokens fail', () => {
  const token = signHs256({ id: 'abc', exp: exp() }, key)
  const [h, p, s] = token.split('.') as [string, string, string]
  assert.equal(verifyHs256(token, key + 'x'), undefined, 'wrong key')
  assert.equal(verifyHs256(`${h}.${b64({ id: 'admin', exp: exp() })}.${s}`, key), undefined, 'payload swapped')
  assert.equal(verifyHs256(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.`, key), undefined, 'alg none')
  assert.equal(verifyHs256(`${h}.${p}.${s.slice(0, -2)}`, key), undefined, 'truncated signature')
  assert.equal(verifyHs256(signHs256({ id: 'abc', exp: Math.floor(Date.now() / 1000) - 1 }, key), key), undefined, 'expired')
  assert.equal(verifyHs256(signHs256({ id: 'abc' }, key), key), undefined, 'no exp')
  for (const junk of ['', 'a.b', 'a.b.c.d', '...', 'not-a-token']) assert.equal(verifyHs256(junk, key), undefined, junk)
})

test('interoperates with jose, an independent implementation, both ways', async () => {
  const { SignJWT, jwtVerify } = await import('jose')
  const secret = new TextEncoder().encode(key)
  const fromJose = await new SignJWT({ id: 'abc' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setExpirationTime(exp()).sign(secret)
  assert.equal(verifyHs256(fromJose, key)?.id, 'abc')
  const ours = signHs256({ id: 'xyz', exp: exp() }, key)
  assert.equal((await jwtVerify(ours, secret, { algorithms: ['HS256'] })).payload.id, 'xyz')
})
