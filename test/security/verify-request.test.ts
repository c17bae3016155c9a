/**
 * The signed-request policy (verify-request.ts) on its own, with the real in-process counters on a
 * clock the test moves: a nonce is refused as a replay for as long as its signature could be
 * accepted, wherever `created` lies in the window, and is dropped soon after (it is not kept for
 * twice the window). Also: the checks fail in the documented order and codes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { MemoryCounters } from '../../src/counters/memory.ts'
import { ApiError } from '../../src/errors.ts'
import { signMessage, type SignatureKey } from '../../src/security/signatures/rfc9421.ts'
import { NODE_CLOCK_MARGIN_SECONDS, verifyRequestSignature, type IncomingSignedRequest } from '../../src/security/signatures/verify-request.ts'

const SKEW = 300
const KEY: SignatureKey = { alg: 'hmac-sha256', secret: randomBytes(32) }
const TARGET = 'https://api.example.com/api/collections/posts/records/abc'

/** A GET signed with KEY, `created` as given, one nonce. */
function signedGet(created: number, nonce: string, extraParams: [string, string | number][] = []): IncomingSignedRequest {
  const headers: Record<string, string> = { authorization: 'token' }
  const msg = { method: 'GET', targetUri: TARGET, header: (n: string) => headers[n] }
  const fields = signMessage(msg, { components: ['@method', '@target-uri', 'authorization'], params: [['created', created], ['keyid', 'k1'], ['nonce', nonce], ...extraParams] }, KEY)
  Object.assign(headers, fields)
  return { ...msg, authenticated: true, hasBody: false }
}

/** One clock (seconds) for the policy and the counters, as on one node. */
function setup(start: number) {
  let now = start
  const counters = new MemoryCounters({ now: () => now * 1000 })
  const deps = { counters, resolveKey: (id: string) => (id === 'k1' ? KEY : undefined), maxSkewSeconds: SKEW, now: () => now }
  return { counters, deps, at: (t: number) => void (now = t) }
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    return String(await p)
  } catch (err) {
    if (err instanceof ApiError) return err.code
    throw err
  }
}

describe('signed requests: nonces', () => {
  test('a replay is refused for as long as the signature is in its window, wherever created lies in it', async () => {
    const T = 1_800_000_000
    // created from the oldest accepted to the newest accepted, and replays up to the window's end.
    for (const offset of [-SKEW, -SKEW + 1, -200, -1, 0, 1, 150, SKEW - 1, SKEW]) {
      const { deps, at } = setup(T)
      const created = T + offset
      const req = signedGet(created, `n${offset}`)
      assert.equal(await outcome(verifyRequestSignature(req, 'required', deps)), 'verified', `created ${offset}`)
      for (let t = T; t <= created + SKEW + 1; t += 7) {
        at(t + 0.999)
        const got = await outcome(verifyRequestSignature(req, 'required', deps))
        assert.ok(got === 'signature_replayed' || got === 'signature_expired', `created ${offset}, replayed at +${t - T}s: ${got}`)
        if (Math.floor(t + 0.999) <= created + SKEW) assert.equal(got, 'signature_replayed', `created ${offset}, +${t - T}s is inside the window`)
      }
    }
  })

  test('a nonce is dropped a margin after its window closes, not kept for twice the window', async () => {
    const T = 1_800_000_000
    const { counters, deps, at } = setup(T)
    await verifyRequestSignature(signedGet(T, 'fresh'), 'required', deps)
    assert.equal(counters.size, 1)
    at(T + SKEW + NODE_CLOCK_MARGIN_SECONDS + 2)
    await verifyRequestSignature(signedGet(T + SKEW + NODE_CLOCK_MARGIN_SECONDS + 2, 'other'), 'required', deps)
    assert.equal(counters.size, 1, 'the first nonce was swept once its window and the margin had passed')
  })

  test('expires, when sooner than the window, ends the nonce sooner; a request after expires is refused', async () => {
    const T = 1_800_000_000
    const { counters, deps, at } = setup(T)
    const req = signedGet(T, 'short', [['expires', T + 10]])
    assert.equal(await outcome(verifyRequestSignature(req, 'required', deps)), 'verified')
    at(T + 10)
    assert.equal(await outcome(verifyRequestSignature(req, 'required', deps)), 'signature_replayed')
    at(T + 11)
    assert.equal(await outcome(verifyRequestSignature(req, 'required', deps)), 'signature_expired')
    at(T + 12 + NODE_CLOCK_MARGIN_SECONDS)
    await verifyRequestSignature(signedGet(T + 12 + NODE_CLOCK_MARGIN_SECONDS, 'later'), 'required', deps)
    assert.equal(counters.size, 1, 'the short-lived nonce is gone')
  })

  test('a forged signature does not spend the nonce: the real request with it still goes through', async () => {
    const T = 1_800_000_000
    const { deps } = setup(T)
    const real = signedGet(T, 'mine')
    const forged: IncomingSignedRequest = { ...real, header: (n) => (n === 'signature' ? 'sig1=:' + Buffer.alloc(32).toString('base64') + ':' : real.header(n)) }
    assert.equal(await outcome(verifyRequestSignature(forged, 'required', deps)), 'signature_bad')
    assert.equal(await outcome(verifyRequestSignature(real, 'required', deps)), 'verified')
  })
})

describe('signed requests: outcomes', () => {
  test('each failed check has its code, and a request the mode lets through unsigned goes on', async () => {
    const T = 1_800_000_000
    const { deps } = setup(T)
    const plain: IncomingSignedRequest = { method: 'GET', targetUri: TARGET, authenticated: true, hasBody: false, header: (n) => (n === 'authorization' ? 'token' : undefined) }
    assert.equal(await outcome(verifyRequestSignature(plain, 'required', deps)), 'signature_missing')
    assert.equal(await outcome(verifyRequestSignature(plain, 'optional', deps)), 'unsigned')
    assert.equal(await outcome(verifyRequestSignature({ ...plain, authenticated: false }, 'required', deps)), 'unsigned')
    assert.equal(await outcome(verifyRequestSignature(signedGet(T, 'x'), 'off', deps)), 'unsigned')
    assert.equal(await outcome(verifyRequestSignature(signedGet(T - SKEW - 1, 'old'), 'required', deps)), 'signature_expired')
    const unknown = setup(T)
    assert.equal(await outcome(verifyRequestSignature(signedGet(T, 'y'), 'required', { ...unknown.deps, resolveKey: () => undefined })), 'signature_unknown_key')
    assert.equal(await outcome(verifyRequestSignature(signedGet(T, 'z'), 'required', { ...unknown.deps, resolveKey: async () => KEY })), 'verified', 'a key found later (a device key) works too')
    const malformed: IncomingSignedRequest = { ...plain, header: (n) => (n === 'signature-input' ? 'sig1=(' : n === 'signature' ? 'sig1=:AA==:' : plain.header(n)) }
    assert.equal(await outcome(verifyRequestSignature(malformed, 'required', deps)), 'signature_bad')
  })
})
