import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SignJWT, decodeJwt } from 'jose'
import { readUnverified, signRecordToken, verifyRecordToken } from '../../src/auth/index.ts'
import { newTokenKey } from '../../src/auth/tokens.ts'
import { superusersCollection, usersCollection } from '../../src/records/collections/defaults.ts'

const users = usersCollection()
const record = { id: 'abcdefghij12345', tokenKey: newTokenKey(), email: 'a@example.com' }

describe('record tokens', () => {
  test("auth token has PocketBase's claims and verifies with the record's tokenKey", async () => {
    const token = await signRecordToken(users, record, 'auth')
    const payload = decodeJwt(token)
    assert.deepEqual(Object.keys(payload).sort(), ['collectionId', 'exp', 'id', 'refreshable', 'type'])
    assert.equal(payload.type, 'auth')
    assert.equal(payload.collectionId, users.id)
    assert.equal(payload.refreshable, true)
    const now = Date.now() / 1000
    assert.ok(Math.abs((payload.exp as number) - now - users.authToken.duration) < 5)
    const claims = await verifyRecordToken(token, users, record.tokenKey, 'auth')
    assert.equal(claims?.id, record.id)
  })

  test('each kind carries its own claims and secret', async () => {
    const v = decodeJwt(await signRecordToken(users, record, 'verification'))
    assert.equal(v.email, record.email)
    const e = decodeJwt(await signRecordToken(users, record, 'emailChange', { newEmail: 'b@example.com' }))
    assert.equal(e.newEmail, 'b@example.com')
    assert.equal(e.email, record.email)
    const f = decodeJwt(await signRecordToken(users, record, 'file'))
    assert.deepEqual(Object.keys(f).sort(), ['collectionId', 'exp', 'id', 'type'])
    // A password-reset token is not an auth token, even for the same record.
    const reset = await signRecordToken(users, record, 'passwordReset')
    assert.equal(await verifyRecordToken(reset, users, record.tokenKey, 'auth'), null)
    assert.ok(await verifyRecordToken(reset, users, record.tokenKey, 'passwordReset'))
  })

  test('a changed tokenKey revokes every older token', async () => {
    const token = await signRecordToken(users, record, 'auth')
    assert.equal(await verifyRecordToken(token, users, newTokenKey(), 'auth'), null)
  })

  test('a changed collection secret, or another collection, rejects the token', async () => {
    const token = await signRecordToken(users, record, 'auth')
    const rotated = { ...users, authToken: { ...users.authToken, secret: 'rotated'.repeat(8) } }
    assert.equal(await verifyRecordToken(token, rotated, record.tokenKey, 'auth'), null)
    assert.equal(await verifyRecordToken(token, superusersCollection(), record.tokenKey, 'auth'), null)
  })

  test('an expired token is rejected', async () => {
    const token = await signRecordToken(users, record, 'auth', { duration: 1 })
    const payload = decodeJwt(token)
    // Re-sign the same claims with exp in the past and the right key.
    const key = new TextEncoder().encode(record.tokenKey + users.authToken.secret)
    const expired = await new SignJWT({ ...payload, exp: Math.floor(Date.now() / 1000) - 10 }).setProtectedHeader({ alg: 'HS256' }).sign(key)
    assert.equal(await verifyRecordToken(expired, users, record.tokenKey, 'auth'), null)
  })

  test('alg none and other algorithms are refused; garbage is null, never a throw', async () => {
    const token = await signRecordToken(users, record, 'auth')
    const [, body] = token.split('.')
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${body}.`
    assert.equal(await verifyRecordToken(none, users, record.tokenKey, 'auth'), null)
    const key = new TextEncoder().encode(record.tokenKey + users.authToken.secret)
    const hs512 = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'HS512' }).sign(key)
    assert.equal(await verifyRecordToken(hs512, users, record.tokenKey, 'auth'), null)
    for (const junk of ['', 'a.b.c', 'not a token', `${token}x`]) {
      assert.equal(await verifyRecordToken(junk, users, record.tokenKey, 'auth'), null)
    }
    assert.equal(readUnverified('a.b.c'), null)
  })

  test('static (non-refreshable) auth tokens say so', async () => {
    const token = await signRecordToken(users, record, 'auth', { refreshable: false, duration: 60 })
    assert.equal(readUnverified(token)?.refreshable, false)
  })
})
