/**
 * Device keys (`/api/plinth/devices`): a signed-in client registers ECDSA P-256 and Ed25519
 * public keys, then signs with the private halves (WebCrypto, as a phone would); a key signs only
 * for the record that registered it, and stops working once removed.
 */
import assert from 'node:assert/strict'
import type { webcrypto } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { RequestSigner, signInit, type ClientKey } from '../../sdk/plinth-signing.ts'
import { startApp, type TestApp } from '../helpers/app.ts'

const BASE = 'http://localhost:80'

describe('device keys', () => {
  let t: TestApp
  const users: { token: string; session: RequestSigner }[] = []
  before(async () => {
    t = await startApp('sqlite', { signatures: { mode: 'required', routes: {}, maxSkewSeconds: 300 } })
    for (const email of ['a@example.com', 'b@example.com']) {
      const created = await t.call('POST', '/api/collections/users/records', { body: { email, password: 'password-123', passwordConfirm: 'password-123' } })
      assert.equal(created.statusCode, 200, created.body)
      const login = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: email, password: 'password-123' } })
      const { token, signingKey } = login.json<{ token: string; signingKey: ClientKey }>()
      users.push({ token, session: new RequestSigner(signingKey) })
    }
  })
  after(() => t?.close())

  const call = async (signer: RequestSigner, token: string, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: token }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const init = await signInit(signer, BASE + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    return t.app.http.inject({ method: method as 'GET', url: path, headers: init.headers as Record<string, string>, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
  }

  async function register(user: (typeof users)[number], alg: 'ecdsa-p256-sha256' | 'ed25519') {
    const algo = alg === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' }
    const pair = (await crypto.subtle.generateKey(algo, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
    const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey)
    const res = await call(user.session, user.token, 'POST', '/api/plinth/devices', { alg, publicKey: jwk, name: `phone ${alg}` })
    assert.equal(res.statusCode, 200, res.body)
    const { keyid } = res.json<{ keyid: string }>()
    assert.match(keyid, /^d_/)
    return { keyid, signer: new RequestSigner({ keyid, alg, privateKey: pair.privateKey }) }
  }

  test('P-256 and Ed25519 device keys sign for their record, and only for it', async () => {
    const [a, b] = users as [(typeof users)[number], (typeof users)[number]]
    for (const alg of ['ecdsa-p256-sha256', 'ed25519'] as const) {
      const device = await register(a, alg)
      const ok = await call(device.signer, a.token, 'GET', '/api/collections/users/records')
      assert.equal(ok.statusCode, 200, `${alg}: ${ok.body}`)
      // B's token with A's device key: not B's key.
      const foreign = await call(device.signer, b.token, 'GET', '/api/collections/users/records')
      assert.equal(foreign.headers['x-plinth-error'], 'signature_unknown_key')
    }
    const listed = await call(a.session, a.token, 'GET', '/api/plinth/devices')
    assert.equal(listed.json<unknown[]>().length, 2)
    assert.equal((await call(b.session, b.token, 'GET', '/api/plinth/devices')).json<unknown[]>().length, 0)
  })

  test('a removed key stops signing; another record cannot remove it', async () => {
    const [a, b] = users as [(typeof users)[number], (typeof users)[number]]
    const device = await register(a, 'ed25519')
    assert.equal((await call(b.session, b.token, 'DELETE', `/api/plinth/devices/${device.keyid}`)).statusCode, 404)
    assert.equal((await call(device.signer, a.token, 'GET', '/api/collections/users/records')).statusCode, 200)
    assert.equal((await call(a.session, a.token, 'DELETE', `/api/plinth/devices/${device.keyid}`)).statusCode, 204)
    const after = await call(device.signer, a.token, 'GET', '/api/collections/users/records')
    assert.equal(after.headers['x-plinth-error'], 'signature_unknown_key')
  })

  test('bad keys and guests are refused', async () => {
    const [a] = users as [(typeof users)[number]]
    const ecJwk = await crypto.subtle.exportKey('jwk', ((await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])) as webcrypto.CryptoKeyPair).publicKey)
    const wrongAlg = await call(a.session, a.token, 'POST', '/api/plinth/devices', { alg: 'ed25519', publicKey: ecJwk })
    assert.equal(wrongAlg.statusCode, 400)
    const junk = await call(a.session, a.token, 'POST', '/api/plinth/devices', { alg: 'ed25519', publicKey: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } })
    assert.equal(junk.statusCode, 400)
    const hmac = await call(a.session, a.token, 'POST', '/api/plinth/devices', { alg: 'hmac-sha256', publicKey: { kty: 'oct', crv: '', x: 'k' } })
    assert.equal(hmac.statusCode, 400)
    assert.equal((await t.call('GET', '/api/plinth/devices')).statusCode, 401)
  })
})
