/**
 * The RFC 9421 module against the RFC's own Appendix B vectors: the bases match byte for byte,
 * HMAC and Ed25519 signatures are reproduced exactly, the ECDSA one verifies, and a copy with any
 * one byte, field, component or parameter changed fails.
 */
import assert from 'node:assert/strict'
import { createHash, createPrivateKey } from 'node:crypto'
import { test } from 'node:test'
import {
  canonicalTargetUri,
  parseSignatures,
  publicKeyOf,
  signatureBase,
  signatureParams,
  signMessage,
  verifyBase,
  type SignatureKey,
  type SignedMessage,
} from '../../src/security/signatures/rfc9421.ts'
import { checkContentDigest, contentDigest } from '../../src/security/signatures/content-digest.ts'
import { B24, B25, B26, ECC_P256_PRIVATE, ECC_P256_PUBLIC, ED25519_PRIVATE, ED25519_PUBLIC, SHARED_SECRET, TEST_REQUEST, TEST_RESPONSE } from './rfc9421-vectors.ts'

type Fields = Record<string, string>

function message(base: { method?: string; targetUri?: string; status?: number; headers: Fields }, extra: Fields = {}): SignedMessage {
  const headers = { ...base.headers, ...extra }
  return { method: base.method, targetUri: base.targetUri, status: base.status, header: (n) => headers[n] }
}

/** Verifies the one signature in `msg` with `key`: parse, rebuild the base, check. */
function verifies(msg: SignedMessage, key: SignatureKey): boolean {
  try {
    const [sig] = parseSignatures(msg)
    if (!sig) return false
    return verifyBase(key, signatureBase(msg, sig.input), sig.signature)
  } catch {
    return false
  }
}

const hmacKey: SignatureKey = { alg: 'hmac-sha256', secret: Buffer.from(SHARED_SECRET, 'base64') }
const edPublic = publicKeyOf('ed25519', ED25519_PUBLIC)
const edPrivate: SignatureKey = { alg: 'ed25519', key: createPrivateKey(ED25519_PRIVATE) }
const ecPublic = publicKeyOf('ecdsa-p256-sha256', ECC_P256_PUBLIC)

const label = (field: string) => field.slice(0, field.indexOf('='))
const inputOf = (field: string) => {
  const [sig] = parseSignatures({ header: (n) => (n === 'signature-input' ? field : n === 'signature' ? `${label(field)}=:AA==:` : undefined) })
  return sig!.input
}

const vectors = [
  { name: 'B.2.4 ecdsa-p256-sha256 (response)', v: B24, base: TEST_RESPONSE, key: ecPublic, deterministic: undefined },
  { name: 'B.2.5 hmac-sha256', v: B25, base: TEST_REQUEST, key: hmacKey, deterministic: hmacKey },
  { name: 'B.2.6 ed25519', v: B26, base: TEST_REQUEST, key: edPublic, deterministic: edPrivate },
] as const

for (const { name, v, base, key, deterministic } of vectors) {
  test(`${name}: the signature base is the RFC's, byte for byte`, () => {
    assert.equal(signatureBase(message(base), inputOf(v.input)), v.base)
  })

  test(`${name}: the RFC's signature verifies`, () => {
    assert.ok(verifies(message(base, { 'signature-input': v.input, signature: v.signature }), key))
  })

  if (deterministic) {
    test(`${name}: signing reproduces the RFC's fields exactly`, () => {
      const fields = signMessage(message(base), inputOf(v.input), deterministic, label(v.input))
      assert.equal(fields['signature-input'], v.input)
      assert.equal(fields.signature, v.signature)
    })
  }

  test(`${name}: any one change fails`, () => {
    const signed = { 'signature-input': v.input, signature: v.signature }
    const tampered: [string, SignedMessage][] = []
    // Every covered field, one byte changed.
    for (const [field, value] of Object.entries(base.headers)) {
      const changed = value.slice(0, -1) + (value.endsWith('a') ? 'b' : 'a')
      if (v.input.includes(`"${field}"`)) tampered.push([`field ${field}`, message(base, { ...signed, [field]: changed })])
    }
    // The derived components.
    const derived: [string, SignedMessage][] =
      'method' in base
        ? [
            ['@method', message({ ...base, method: 'PUT' }, signed)],
            ['@authority', message({ ...base, targetUri: 'https://example.org/foo?param=Value&Pet=dog' }, signed)],
            ['@path', message({ ...base, targetUri: 'https://example.com/fox?param=Value&Pet=dog' }, signed)],
          ]
        : [['@status', message({ ...base, status: 201 }, signed)]]
    tampered.push(...derived.filter(([c]) => v.input.includes(`"${c}"`)))
    // Every signature byte.
    const sigBytes = Buffer.from(v.signature.slice(v.signature.indexOf(':') + 1, -1), 'base64')
    for (let i = 0; i < sigBytes.length; i++) {
      const copy = Buffer.from(sigBytes)
      copy[i] = copy[i]! ^ 0x01
      tampered.push([`signature byte ${i}`, message(base, { ...signed, signature: `${label(v.input)}=:${copy.toString('base64')}:` })])
    }
    // Each component dropped, two swapped, and each parameter changed or dropped.
    const components = /\(([^)]*)\)/.exec(v.input)![1]!.split(' ')
    for (const c of components) {
      tampered.push([`without ${c}`, message(base, { ...signed, 'signature-input': v.input.replace(`${c} `, '').replace(` ${c}`, '') })])
    }
    tampered.push(['components reordered', message(base, { ...signed, 'signature-input': v.input.replace(`${components[0]} ${components[1]}`, `${components[1]} ${components[0]}`) })])
    tampered.push(['created + 1', message(base, { ...signed, 'signature-input': v.input.replace('created=1618884473', 'created=1618884474') })])
    tampered.push(['created dropped', message(base, { ...signed, 'signature-input': v.input.replace(';created=1618884473', '') })])
    tampered.push(['keyid changed', message(base, { ...signed, 'signature-input': v.input.replace('keyid="test-', 'keyid="Test-') })])
    tampered.push(['nonce added', message(base, { ...signed, 'signature-input': `${v.input};nonce="x"` })])
    tampered.push(['alg added', message(base, { ...signed, 'signature-input': `${v.input};alg="${key.alg}"` })])
    for (const [what, msg] of tampered) assert.equal(verifies(msg, key), false, what)
    // And the untouched message still verifies with the same helper.
    assert.ok(verifies(message(base, signed), key))
  })
}

test('B.2.4: a fresh ECDSA signature with the RFC key verifies, and is 64 raw bytes (r||s)', () => {
  const priv: SignatureKey = { alg: 'ecdsa-p256-sha256', key: createPrivateKey(ECC_P256_PRIVATE) }
  const fields = signMessage(message(TEST_RESPONSE), inputOf(B24.input), priv, 'sig-b24')
  assert.equal(Buffer.from(fields.signature.slice('sig-b24=:'.length, -1), 'base64').length, 64)
  assert.ok(verifies(message(TEST_RESPONSE, { ...fields }), ecPublic))
})

test('a key of another algorithm never verifies a vector', () => {
  assert.equal(verifies(message(TEST_REQUEST, { 'signature-input': B26.input, signature: B26.signature }), hmacKey), false)
  assert.equal(verifies(message(TEST_REQUEST, { 'signature-input': B25.input, signature: B25.signature }), edPublic), false)
  assert.throws(() => publicKeyOf('ed25519', ECC_P256_PUBLIC))
  assert.throws(() => publicKeyOf('ecdsa-p256-sha256', ED25519_PUBLIC))
})

test('Content-Digest: the RFC test messages carry the digests of their bodies; a changed body fails', () => {
  const sha = (alg: string, body: string) => new Uint8Array(createHash(alg).update(body).digest())
  const digests = (body: string) => ({ 'sha-256': sha('sha256', body), 'sha-512': sha('sha512', body) })
  assert.ok(checkContentDigest(TEST_REQUEST.headers['content-digest']!, digests(TEST_REQUEST.body)))
  assert.ok(checkContentDigest(TEST_RESPONSE.headers['content-digest']!, digests(TEST_RESPONSE.body)))
  assert.equal(checkContentDigest(TEST_REQUEST.headers['content-digest']!, digests('{"hello": "World"}')), false)
  assert.ok(checkContentDigest(contentDigest('abc'), digests('abc')))
  assert.equal(checkContentDigest(contentDigest('abc'), digests('abd')), false)
  // Only unknown algorithms, or a malformed field: not a match.
  assert.equal(checkContentDigest('md5=:AAAA:', digests('abc')), false)
  assert.equal(checkContentDigest('sha-256=notbytes', digests('abc')), false)
  assert.equal(checkContentDigest(`${contentDigest('abc')}, ${contentDigest('abd', 'sha-512')}`, digests('abc')), false)
})

test('malformed signature fields are refused, not guessed at', () => {
  for (const [input, sig] of [
    ['sig1=("@method"', 'sig1=:AA==:'],
    ['sig1="@method"', 'sig1=:AA==:'],
    ['sig1=("@method";req);created=1', 'sig1=:AA==:'],
    ['sig1=("@method");created=1', 'sig1=("x")'],
    ['sig1=("@method");created=1', 'sig1=:not base64!:'],
    ['sig1=("@method");created=1,', 'sig1=:AA==:'],
    ['x'.repeat(9000), 'sig1=:AA==:'],
  ] as const) {
    assert.throws(() => parseSignatures({ header: (n) => (n === 'signature-input' ? input : n === 'signature' ? sig : undefined) }), input.slice(0, 40))
  }
  assert.throws(() => signatureBase(message(TEST_REQUEST), { components: ['x-missing'], params: [] }))
  assert.throws(() => signatureBase(message(TEST_REQUEST), { components: ['@method', '@method'], params: [] }))
})

test('@target-uri: the canonical form is what WHATWG URL gives, with or without the fast path', () => {
  // A small seeded generator (no Math.random: a failure must replay) over pieces URL treats specially.
  let seed = 9421
  const next = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), (seed >>> 8) % n)
  const pieces = ['a', 'Z', '0', '9', '255', '256', '0x1f', '.', '-', ':', ':80', ':443', ':08', ':65536', ':8090', '/', '/.', '/..',
    '%2e', '%2E', '%41', '%', '?', '#', "'", '"', ' ', '\\', '^', '`', '{', '}', '|', '~', '_', '!', '$', '&', '(', ')', '*', '+',
    ',', ';', '=', '@', 'xn--', 'xn--nxasmq6b', 'é', '\t', '127.0.0.1', 'localhost', '[::1]', 'example.com']
  let unchanged = 0
  for (let i = 0; i < 20_000; i++) {
    let uri = next(2) ? 'http://' : 'https://'
    for (let n = 1 + next(8); n > 0; n--) uri += pieces[next(pieces.length)]
    let expected: string | undefined
    try {
      expected = new URL(uri).href // NB: not URL.canParse, which disagrees with the constructor on some hosts in Node 20
    } catch {
      expected = undefined // URL refuses it
    }
    let got: string | undefined
    try {
      got = canonicalTargetUri(uri)
    } catch {
      got = undefined // refused, as URL refuses it
    }
    assert.equal(got, expected, uri)
    if (got === uri) unchanged++
  }
  assert.ok(unchanged > 100, `only ${unchanged} generated URIs were canonical already`)
  assert.equal(canonicalTargetUri('http://Example.com:80/a/./b?x=1'), 'http://example.com/a/b?x=1')
  assert.equal(canonicalTargetUri('https://api.example.com/api/collections/posts/records?filter=a%3D1'), 'https://api.example.com/api/collections/posts/records?filter=a%3D1')
})

test('Signature-Input: a canonical member and a non-canonical one give the same @signature-params', () => {
  const canonical = '("@method" "@target-uri");created=1618884473;nonce="n-1";keyid="k"'
  const variants = [
    ['( "@method"  "@target-uri" );created=1618884473;nonce="n-1";keyid="k"', canonical],
    ['("@method" "@target-uri");created=01618884473;nonce="n-1";keyid="k"', canonical],
    ['("@method" "@target-uri");created=1;nonce="n-1";keyid="k";created=1618884473', canonical],
    ['("@method" "@target-uri");created=-0;keyid=k', '("@method" "@target-uri");created=0;keyid=k'],
    ['("@method" "@target-uri");created=1;flag;keyid="a\\\\b"', '("@method" "@target-uri");created=1;flag;keyid="a\\\\b"'],
    [canonical, canonical],
  ]
  for (const [given, expected] of variants) assert.equal(signatureParams(inputOf(`sig=${given}`)), expected, given)
})
