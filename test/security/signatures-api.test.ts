/**
 * Signed requests through the whole app (`app.http.inject()`), signed by the client helper in
 * `sdk/`: the session key in auth responses, each failure's code (missing, bad digest, expired,
 * replayed, unknown key, bad signature), modes per route group, and guests left alone.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { RequestSigner, signInit, type ClientKey } from '../../sdk/plinth-signing.ts'
import { contentDigest } from '../../src/security/signatures/content-digest.ts'
import { signMessage } from '../../src/security/signatures/rfc9421.ts'
import { startApp, type TestApp } from '../helpers/app.ts'

const BASE = 'http://localhost:80'

/** Sends a request signed by `signer` (the helper's own headers and body bytes), plus `tweak` edits. */
async function signedCall(
  t: TestApp,
  signer: RequestSigner,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; tweak?: (h: Record<string, string>) => void; replaceBody?: string } = {},
): Promise<{ res: LightMyRequestResponse; headers: Record<string, string>; body?: string }> {
  const headers: Record<string, string> = opts.token ? { authorization: opts.token } : {}
  let body: string | undefined
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body)
    headers['content-type'] = 'application/json'
  }
  const init = await signInit(signer, BASE + path, { method, headers, ...(body === undefined ? {} : { body }) })
  const sent = { ...(init.headers as Record<string, string>) }
  opts.tweak?.(sent)
  const payload = opts.replaceBody ?? body
  const res = await t.app.http.inject({ method: method as 'GET', url: path, headers: sent, ...(payload === undefined ? {} : { payload }) })
  return { res, headers: sent, body: payload }
}

const code = (res: LightMyRequestResponse) => res.headers['x-plinth-error']

describe('request signatures, required', () => {
  let t: TestApp
  let token: string
  let key: ClientKey
  let signer: RequestSigner
  let userId: string
  before(async () => {
    t = await startApp('sqlite', { signatures: { mode: 'required', routes: { '/api/health': 'off' }, maxSkewSeconds: 300 } })
    // A guest sign-up: no token, so no signature needed.
    const created = await t.call('POST', '/api/collections/users/records', { body: { email: 'a@example.com', password: 'password-123', passwordConfirm: 'password-123' } })
    assert.equal(created.statusCode, 200, created.body)
    userId = created.json<{ id: string }>().id
    const login = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'a@example.com', password: 'password-123' } })
    assert.equal(login.statusCode, 200, login.body)
    const json = login.json<{ token: string; signingKey: ClientKey & { secret: string } }>()
    token = json.token
    key = json.signingKey
    signer = new RequestSigner(key)
  })
  after(() => t?.close())

  test('an auth response carries a per-token HMAC key; another account\'s token gets another key', async () => {
    assert.match(key.keyid, /^s_[A-Za-z0-9_-]{22}$/)
    assert.equal(key.alg, 'hmac-sha256')
    assert.equal(Buffer.from((key as { secret: string }).secret, 'base64').length, 32)
    // (Two sign-ins of one account within the same second get the same token, hence the same key.)
    const su = await t.call('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: 'root@example.com', password: 'root-password-1' } })
    const other = su.json<{ signingKey: { keyid: string; secret: string } }>().signingKey
    assert.notEqual(other.secret, (key as { secret: string }).secret)
    assert.notEqual(other.keyid, key.keyid)
  })

  test('a signed request with the session key passes; unsigned, it is refused as missing', async () => {
    const ok = await signedCall(t, signer, 'GET', '/api/collections/users/records?perPage=5', { token })
    assert.equal(ok.res.statusCode, 200, ok.res.body)
    const plain = await t.call('GET', '/api/collections/users/records', { token })
    assert.equal(plain.statusCode, 401)
    assert.equal(code(plain), 'signature_missing')
    assert.deepEqual(Object.keys(plain.json()).sort(), ['data', 'message', 'status'])
  })

  test('guests (no token) are not asked to sign; a route group set off is not checked', async () => {
    assert.equal((await t.call('GET', '/api/collections/users/records')).statusCode, 200)
    assert.equal((await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'a@example.com', password: 'password-123' } })).statusCode, 200)
    assert.equal((await t.call('GET', '/api/health', { token, headers: { 'signature-input': 'junk' } })).statusCode, 200)
  })

  test('a replay of an accepted request is refused, even with a body', async () => {
    const first = await signedCall(t, signer, 'POST', '/api/collections/users/auth-refresh', { token, body: {} })
    assert.equal(first.res.statusCode, 200, first.res.body)
    const replay = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-refresh', headers: first.headers, payload: first.body })
    assert.equal(replay.statusCode, 401)
    assert.equal(code(replay), 'signature_replayed')
  })

  test('a body changed after signing fails the digest; a changed digest fails the signature', async () => {
    const path = `/api/collections/users/records/${userId}`
    const body = { name: 'Alice' }
    const tampered = await signedCall(t, signer, 'PATCH', path, { token, body, replaceBody: JSON.stringify({ name: 'Mallory' }) })
    assert.equal(tampered.res.statusCode, 401)
    assert.equal(code(tampered.res), 'signature_bad_digest')
    const digest = await signedCall(t, signer, 'PATCH', path, {
      token, body, replaceBody: JSON.stringify({ name: 'Mallory' }),
      tweak: (h) => (h['content-digest'] = `sha-256=:${Buffer.from(sha256('{"name":"Mallory"}')).toString('base64')}:`),
    })
    assert.equal(code(digest.res), 'signature_bad')
    const ok = await signedCall(t, signer, 'PATCH', path, { token, body })
    assert.equal(ok.res.statusCode, 200, ok.res.body)
    assert.equal(ok.res.json<{ name: string }>().name, 'Alice')
  })

  test('a Content-Digest with sha-512 only is checked against the body too', async () => {
    const path = `/api/collections/users/records/${userId}`
    const send = async (sentBody: string, digestOf: string) => {
      const headers: Record<string, string> = { authorization: token, 'content-type': 'application/json', 'content-digest': contentDigest(digestOf, 'sha-512') }
      const msg = { method: 'PATCH', targetUri: BASE + path, header: (n: string) => headers[n] }
      const params: [string, string | number][] = [['created', Math.floor(Date.now() / 1000)], ['nonce', randomBytes(12).toString('base64url')], ['keyid', key.keyid], ['alg', 'hmac-sha256']]
      Object.assign(headers, signMessage(msg, { components: ['@method', '@target-uri', 'content-digest', 'authorization'], params }, { alg: 'hmac-sha256', secret: Buffer.from((key as { secret: string }).secret, 'base64') }))
      return t.app.http.inject({ method: 'PATCH', url: path, headers, payload: sentBody })
    }
    const ok = await send('{"name":"Bea"}', '{"name":"Bea"}')
    assert.equal(ok.statusCode, 200, ok.body)
    const tampered = await send('{"name":"Mallory"}', '{"name":"Bea"}')
    assert.equal(code(tampered), 'signature_bad_digest')
  })

  test('clock skew beyond the window either way is expired; inside it passes', async () => {
    const now = () => Date.now() / 1000
    for (const [skew, expected] of [[-301, 'signature_expired'], [301, 'signature_expired'], [-250, undefined], [250, undefined]] as const) {
      const skewed = new RequestSigner(key, { now: () => now() + skew })
      const { res } = await signedCall(t, skewed, 'GET', '/api/collections/users/records', { token })
      assert.equal(code(res), expected, `skew ${skew}: ${res.body}`)
    }
  })

  test('unknown key ids, a wrong secret, and another session\'s key are refused', async () => {
    const unknown = await signedCall(t, new RequestSigner({ ...key, keyid: 's_AAAAAAAAAAAAAAAAAAAAAA' } as ClientKey), 'GET', '/api/collections/users/records', { token })
    assert.equal(code(unknown.res), 'signature_unknown_key')
    const device = await signedCall(t, new RequestSigner({ ...key, keyid: 'd_nope' } as ClientKey), 'GET', '/api/collections/users/records', { token })
    assert.equal(code(device.res), 'signature_unknown_key')
    const wrong = await signedCall(t, new RequestSigner({ ...key, secret: Buffer.alloc(32, 7).toString('base64') } as ClientKey), 'GET', '/api/collections/users/records', { token })
    assert.equal(code(wrong.res), 'signature_bad')
    // This user's session key used with another token (the superuser's): not that token's key.
    const other = await signedCall(t, signer, 'GET', '/api/collections/users/records', { token: t.su })
    assert.equal(code(other.res), 'signature_unknown_key')
  })

  test('components left uncovered, or a covered one changed in transit, are refused', async () => {
    const noAuth = await signedCall(t, signer, 'GET', '/api/collections/users/records', {
      token,
      tweak: (h) => {
        h['signature-input'] = h['signature-input']!.replace(' "authorization"', '')
      },
    })
    assert.equal(code(noAuth.res), 'signature_missing')
    const otherPath = await signedCall(t, signer, 'GET', '/api/collections/users/records', { token })
    const moved = await t.app.http.inject({ method: 'GET', url: '/api/collections/users/records?page=2', headers: { ...otherPath.headers, 'signature-input': otherPath.headers['signature-input']!.replace(/nonce="[^"]+"/, 'nonce="fresh"') } })
    assert.equal(code(moved), 'signature_bad')
    const garbage = await t.call('GET', '/api/collections/users/records', { token, headers: { 'signature-input': 'sig1=(', signature: 'sig1=:AA==:' } })
    assert.equal(code(garbage), 'signature_bad')
  })
})

describe('request signatures, optional per route group', () => {
  let t: TestApp
  before(async () => {
    t = await startApp('sqlite', { signatures: { mode: 'off', routes: { '/api/collections/': 'optional' }, maxSkewSeconds: 300 } })
  })
  after(() => t?.close())

  test('unsigned requests pass; a signature that is present must verify', async () => {
    const login = await t.call('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: 'root@example.com', password: 'root-password-1' } })
    const { token, signingKey } = login.json<{ token: string; signingKey: ClientKey }>()
    assert.ok(signingKey, 'signing is on for some routes, so auth responses carry a key')
    assert.equal((await t.call('GET', '/api/collections/users/records', { token })).statusCode, 200)
    const good = await signedCall(t, new RequestSigner(signingKey), 'GET', '/api/collections/users/records', { token })
    assert.equal(good.res.statusCode, 200, good.res.body)
    const bad = await signedCall(t, new RequestSigner({ ...signingKey, secret: Buffer.alloc(32).toString('base64') } as ClientKey), 'GET', '/api/collections/users/records', { token })
    assert.equal(code(bad.res), 'signature_bad')
  })

  test('a refused signature is audited as signature.failed, once per address and code per minute', async () => {
    const login = await t.call('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: 'root@example.com', password: 'root-password-1' } })
    const { token, signingKey } = login.json<{ token: string; signingKey: ClientKey }>()
    const forged = new RequestSigner({ ...signingKey, secret: Buffer.alloc(32, 7).toString('base64') } as ClientKey)
    for (let i = 0; i < 5; i++) {
      const bad = await signedCall(t, forged, 'GET', '/api/collections/users/records?page=2', { token, tweak: (h) => { h['x-forwarded-for'] = '10.7.7.7' } })
      assert.equal(code(bad.res), 'signature_bad')
    }
    type Entry = { action: string; ip: string; path: string; status: number; data: { code?: string } }
    let items: Entry[] = []
    for (let i = 0; i < 100 && items.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20)) // entries are written after the answer
      items = (await t.call('GET', '/api/plinth/audit?action=signature.failed', { token })).json<{ items: Entry[] }>().items
    }
    assert.equal(items.length, 1, JSON.stringify(items))
    const [entry] = items as [Entry]
    assert.deepEqual([entry.path, entry.status, entry.data.code], ['/api/collections/users/records', 401, 'signature_bad'])
    assert.ok(entry.ip.length > 0)
  })
})

describe('request signatures on the in-process counters, at their nonce cap (memory://?maxNonces=)', () => {
  let t: TestApp
  before(async () => {
    t = await startApp('sqlite', { counters: 'memory://?maxNonces=3', signatures: { mode: 'required', maxSkewSeconds: 300 } })
  })
  after(() => t?.close())

  test('live nonces are never evicted: past the cap a signed request gets 503, and a replay is still refused as replayed', async () => {
    const su = await t.call('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: 'root@example.com', password: 'root-password-1' } })
    const { token, signingKey } = su.json<{ token: string; signingKey: ClientKey }>()
    const signer = new RequestSigner(signingKey)
    const sent = []
    for (let i = 0; i < 3; i++) {
      const ok = await signedCall(t, signer, 'GET', '/api/collections/_superusers/records', { token })
      assert.equal(ok.res.statusCode, 200, ok.res.body)
      sent.push(ok)
    }
    const over = await signedCall(t, signer, 'GET', '/api/collections/_superusers/records', { token })
    assert.equal(over.res.statusCode, 503, over.res.body)
    assert.doesNotMatch(over.res.body, /maxNonces|memory:/, 'the operator\'s setting is logged, not shown to the client')
    const replay = await t.app.http.inject({ method: 'GET', url: '/api/collections/_superusers/records', headers: sent[0]!.headers })
    assert.equal(replay.statusCode, 401)
    assert.equal(code(replay), 'signature_replayed')
  })
})

describe('bad auth tokens are refused (no signatures involved)', () => {
  let t: TestApp
  before(async () => {
    t = await startApp('sqlite')
  })
  after(() => t?.close())

  test('alg=none, a wrong signature and an expired token all get 401 from auth-refresh', async () => {
    const [h, p, s] = t.su.split('.') as [string, string, string]
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
    const forged = [
      `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
      `${h}.${p}.${s.slice(0, -4)}AAAA`,
      `${h}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 })}.${s}`,
    ]
    for (const token of forged) {
      const res = await t.call('POST', '/api/collections/_superusers/auth-refresh', { token })
      assert.equal(res.statusCode, 401, token)
    }
    assert.equal((await t.call('POST', '/api/collections/_superusers/auth-refresh', { token: t.su })).statusCode, 200)
    // Signing is off: no signingKey in auth responses.
    assert.equal((await t.call('POST', '/api/collections/_superusers/auth-refresh', { token: t.su })).json<{ signingKey?: unknown }>().signingKey, undefined)
  })
})

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}
