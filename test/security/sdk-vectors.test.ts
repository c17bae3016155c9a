/**
 * The client helper (`sdk/plinth-signing.ts`, WebCrypto) against the same RFC 9421 Appendix B
 * vectors as the server: the same bases, the RFC's HMAC and Ed25519 signatures reproduced, and an
 * ECDSA signature the server module verifies with the RFC's public key.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signatureBase, signBase, type ClientKey } from '../../sdk/plinth-signing.ts'
import { publicKeyOf, verifyBase } from '../../src/security/signatures/rfc9421.ts'
import { B24, B25, B26, ECC_P256_PRIVATE, ECC_P256_PUBLIC, ED25519_PRIVATE, SHARED_SECRET, TEST_REQUEST, TEST_RESPONSE } from './rfc9421-vectors.ts'
import { createPrivateKey } from 'node:crypto'

const sigOf = (field: string) => field.slice(field.indexOf(':') + 1, -1)
const request = { method: TEST_REQUEST.method, url: TEST_REQUEST.targetUri, headers: TEST_REQUEST.headers }

test('B.2.5: the helper builds the RFC base and reproduces its HMAC signature', async () => {
  const base = signatureBase(request, ['date', '@authority', 'content-type'], [['created', 1618884473], ['keyid', 'test-shared-secret']])
  assert.equal(base, B25.base)
  const key: ClientKey = { keyid: 'test-shared-secret', alg: 'hmac-sha256', secret: SHARED_SECRET }
  assert.equal(Buffer.from(await signBase(key, base)).toString('base64'), sigOf(B25.signature))
})

test('B.2.6: the helper reproduces the RFC Ed25519 signature', async () => {
  const base = signatureBase(request, ['date', '@method', '@path', '@authority', 'content-type', 'content-length'], [['created', 1618884473], ['keyid', 'test-key-ed25519']])
  assert.equal(base, B26.base)
  const der = createPrivateKey(ED25519_PRIVATE).export({ format: 'der', type: 'pkcs8' })
  const privateKey = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign'])
  assert.equal(Buffer.from(await signBase({ keyid: 'test-key-ed25519', alg: 'ed25519', privateKey }, base)).toString('base64'), sigOf(B26.signature))
})

test('B.2.4: the helper builds the RFC base; its ECDSA signature verifies with the RFC public key', async () => {
  const base = signatureBase({ status: TEST_RESPONSE.status, headers: TEST_RESPONSE.headers }, ['@status', 'content-type', 'content-digest', 'content-length'], [['created', 1618884473], ['keyid', 'test-key-ecc-p256']])
  assert.equal(base, B24.base)
  const der = createPrivateKey(ECC_P256_PRIVATE).export({ format: 'der', type: 'pkcs8' })
  const privateKey = await crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  const sig = await signBase({ keyid: 'test-key-ecc-p256', alg: 'ecdsa-p256-sha256', privateKey }, base)
  assert.ok(verifyBase(publicKeyOf('ecdsa-p256-sha256', ECC_P256_PUBLIC), base, sig))
  // And the RFC's own signature verifies over the helper's base.
  assert.ok(verifyBase(publicKeyOf('ecdsa-p256-sha256', ECC_P256_PUBLIC), base, Buffer.from(sigOf(B24.signature), 'base64')))
})
