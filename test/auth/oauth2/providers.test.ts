/**
 * Each OAuth2 provider client against a local server that checks what the client really sends
 * (grant, code, PKCE verifier, redirect, client authentication), and the generic OIDC provider
 * against oauth2-mock-server as a real OpenID provider.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { decodeProtectedHeader } from 'jose'
import { OAuth2Server } from 'oauth2-mock-server'
import { initProvider, OAuth2Error, type OAuth2Provider, type ProviderConfig } from '../../../src/auth/oauth2/index.ts'
import { CLIENT_ID, KEY_ID, TEAM_ID, startApple, type AppleFixture } from '../../helpers/apple.ts'
import { startVendor, type Vendor } from '../../helpers/vendor.ts'

const VERIFIER = 'v'.repeat(43)

function make(config: Partial<ProviderConfig> & { name: string }): OAuth2Provider {
  const p = initProvider({ clientId: 'cid', clientSecret: 'csecret', ...config })
  assert.ok(p)
  return p
}

describe('google', () => {
  let v: Vendor
  before(async () => {
    v = await startVendor({
      'POST /token': () => ({ body: { access_token: 'g-at', refresh_token: 'g-rt', expires_in: 3600, token_type: 'Bearer' } }),
      'GET /userinfo': (r) =>
        r.headers.authorization === 'Bearer g-at'
          ? { body: { sub: '1089', name: 'Ann', picture: 'https://x/p.png', email: 'ann@example.com', email_verified: true } }
          : { status: 401, body: {} },
    })
  })
  after(() => v.close())
  const cfg = () => ({ name: 'google', authURL: `${v.url}/auth`, tokenURL: `${v.url}/token`, userInfoURL: `${v.url}/userinfo` })

  test('auth URL: client, scope, state, S256 challenge, empty redirect_uri last', async () => {
    const url = await make(cfg()).buildAuthURL({ state: 'st', codeChallenge: 'ch' })
    assert.ok(url.endsWith('&redirect_uri='))
    const q = new URL(url).searchParams
    assert.equal(q.get('client_id'), 'cid')
    assert.equal(q.get('response_type'), 'code')
    assert.equal(q.get('state'), 'st')
    assert.equal(q.get('code_challenge'), 'ch')
    assert.equal(q.get('code_challenge_method'), 'S256')
    assert.match(q.get('scope') ?? '', /userinfo\.email/)
  })

  test('token exchange sends the grant, code, verifier, redirect and client credentials; user from userinfo', async () => {
    const p = make(cfg())
    const token = await p.fetchToken('the-code', VERIFIER, 'https://app.example.com/cb')
    const sent = v.seen.find((s) => s.path === '/token')!
    assert.equal(sent.method, 'POST')
    assert.deepEqual(sent.form, {
      grant_type: 'authorization_code', code: 'the-code', redirect_uri: 'https://app.example.com/cb', code_verifier: VERIFIER, client_id: 'cid', client_secret: 'csecret',
    })
    assert.equal(token.accessToken, 'g-at')
    assert.ok(Date.parse(token.expiry.replace(' ', 'T')) > Date.now())
    const user = await p.fetchUser(token)
    assert.deepEqual([user.id, user.name, user.email, user.avatarURL, user.refreshToken], ['1089', 'Ann', 'ann@example.com', 'https://x/p.png', 'g-rt'])
  })

  test('pkce off: no verifier sent; an unverified email is dropped', async () => {
    v.routes.set('GET /userinfo', () => ({ body: { sub: '1', email: 'x@example.com', email_verified: false } }))
    const p = make({ ...cfg(), pkce: false })
    const before = v.seen.length
    const token = await p.fetchToken('c', VERIFIER, 'https://app/cb')
    assert.equal(v.seen[before]!.form.code_verifier, undefined)
    assert.equal((await p.fetchUser(token)).email, '')
  })

  test('a refused exchange is an OAuth2Error', async () => {
    v.routes.set('POST /token', () => ({ status: 400, body: { error: 'invalid_grant' } }))
    await assert.rejects(make(cfg()).fetchToken('bad', '', ''), OAuth2Error)
  })
})

describe('github', () => {
  let v: Vendor
  before(async () => {
    v = await startVendor({
      'POST /login/oauth/access_token': () => ({ body: { access_token: 'gh-at', token_type: 'bearer', scope: 'read:user,user:email' } }),
      'GET /user': () => ({ body: { id: 583231, login: 'octocat', name: 'The Octocat', avatar_url: 'https://a/o.png', email: 'public@unverified.example' } }),
      'GET /user/emails': () => ({
        body: [
          { email: 'second@example.com', verified: true, primary: false },
          { email: 'unverified-primary@example.com', verified: false, primary: true },
        ],
      }),
    })
  })
  after(() => v.close())
  const cfg = () => ({ name: 'github', tokenURL: `${v.url}/login/oauth/access_token`, userInfoURL: `${v.url}/user` })

  test('numeric id as a string, login as username, email only when verified and primary', async () => {
    const p = make(cfg())
    const token = await p.fetchToken('gh-code', VERIFIER, 'https://app/cb')
    const sent = v.seen.find((s) => s.path === '/login/oauth/access_token')!
    assert.equal(sent.headers.accept, 'application/json')
    assert.equal(sent.form.client_secret, 'csecret')
    const user = await p.fetchUser(token)
    assert.deepEqual([user.id, user.username, user.name, user.email], ['583231', 'octocat', 'The Octocat', ''])
    assert.equal(v.seen.find((s) => s.path === '/user/emails')!.headers.authorization, 'Bearer gh-at')
    v.routes.set('GET /user/emails', () => ({ body: [{ email: 'me@example.com', verified: true, primary: true }] }))
    assert.equal((await p.fetchUser(token)).email, 'me@example.com')
    v.routes.set('GET /user/emails', () => ({ status: 403, body: { message: 'scope' } }))
    assert.equal((await p.fetchUser(token)).email, '')
  })
})

describe('wechat', () => {
  let v: Vendor
  before(async () => {
    v = await startVendor({
      'GET /sns/oauth2/access_token': (r) =>
        r.query.code === 'wx-code'
          ? { body: { access_token: `at-${r.query.appid}`, expires_in: 7200, refresh_token: 'wx-rt', openid: `openid-${r.query.appid}`, scope: 'snsapi_login', unionid: 'union-1' } }
          : { body: { errcode: 40029, errmsg: 'invalid code' } },
      'GET /sns/userinfo': (r) => ({ body: { openid: r.query.openid, nickname: '小明', headimgurl: 'https://wx/h.png', unionid: 'union-1' } }),
    })
  })
  after(() => v.close())
  const cfg = () => ({
    name: 'wechat', clientId: 'wxweb', clientSecret: 'websecret', authURL: `${v.url}/connect/qrconnect`,
    tokenURL: `${v.url}/sns/oauth2/access_token`, userInfoURL: `${v.url}/sns/userinfo`, extra: { appId: 'wxapp', appSecret: 'appsecret' },
  })

  test('auth URL carries appid and snsapi_login; no PKCE', async () => {
    const p = make(cfg())
    assert.equal(p.pkce, false)
    const q = new URL(await p.buildAuthURL({ state: 's1', codeChallenge: 'ignored' })).searchParams
    assert.deepEqual([q.get('appid'), q.get('scope'), q.get('state'), q.get('code_challenge')], ['wxweb', 'snsapi_login', 's1', null])
  })

  test('web login: GET with appid/secret/code/grant_type; unionid is the id', async () => {
    const p = make(cfg())
    const token = await p.fetchToken('wx-code', VERIFIER, 'https://app/cb')
    const sent = v.seen.find((s) => s.path === '/sns/oauth2/access_token')!
    assert.equal(sent.method, 'GET')
    assert.deepEqual(sent.query, { appid: 'wxweb', secret: 'websecret', code: 'wx-code', grant_type: 'authorization_code' })
    const user = await p.fetchUser(token)
    const info = v.seen.find((s) => s.path === '/sns/userinfo')!
    assert.deepEqual(info.query, { access_token: 'at-wxweb', openid: 'openid-wxweb' })
    assert.deepEqual([user.id, user.name, user.avatarURL, user.email], ['union-1', '小明', 'https://wx/h.png', ''])
  })

  test('app login (no redirectURL) exchanges with the app credentials; same unionid', async () => {
    const p = make(cfg())
    const token = await p.fetchToken('wx-code', '', '')
    assert.equal(v.seen.at(-1)!.query.appid, 'wxapp')
    assert.equal(v.seen.at(-1)!.query.secret, 'appsecret')
    assert.equal((await p.fetchUser(token)).id, 'union-1')
  })

  test('without a unionid the openid is the id', async () => {
    v.routes.set('GET /sns/userinfo', (r) => ({ body: { openid: r.query.openid, nickname: 'n' } }))
    const p = make({ ...cfg(), extra: {} })
    v.routes.set('GET /sns/oauth2/access_token', () => ({ body: { access_token: 'a', expires_in: 7200, openid: 'only-openid' } }))
    assert.equal((await p.fetchUser(await p.fetchToken('wx-code', '', ''))).id, 'only-openid')
  })

  test('an errcode reply (HTTP 200) is an error', async () => {
    v.routes.set('GET /sns/oauth2/access_token', () => ({ body: { errcode: 40029, errmsg: 'invalid code' } }))
    await assert.rejects(make(cfg()).fetchToken('stale', '', 'https://app/cb'), /errcode 40029/)
    v.routes.set('GET /sns/oauth2/access_token', () => ({ body: { access_token: 'a', openid: 'o' } }))
    v.routes.set('GET /sns/userinfo', () => ({ body: { errcode: 40003, errmsg: 'invalid openid' } }))
    const p = make(cfg())
    await assert.rejects(p.fetchUser(await p.fetchToken('wx-code', '', '')), /errcode 40003/)
  })
})

describe('apple', () => {
  let dir: string
  let fx: AppleFixture
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-apple-'))
    fx = await startApple(dir)
  })
  after(async () => {
    await fx.vendor.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const cfg = () => ({ name: 'apple', clientId: CLIENT_ID, clientSecret: '', tokenURL: `${fx.vendor.url}/auth/token`, extra: fx.extra })

  test('auth URL asks for form_post', async () => {
    const q = new URL(await make(cfg()).buildAuthURL({ state: 's', codeChallenge: 'c' })).searchParams
    assert.equal(q.get('response_mode'), 'form_post')
    assert.equal(q.get('scope'), 'name email')
  })

  test('the client secret is an ES256 JWT from the .p8 key that Apple verifies; the id_token gives the user', async () => {
    const p = make(cfg())
    const token = await p.fetchToken('apple-code', VERIFIER, 'https://app/cb')
    assert.equal(fx.lastSecret?.header.kid, KEY_ID)
    assert.equal(fx.lastSecret?.header.alg, 'ES256')
    assert.equal(fx.lastSecret?.payload.iss, TEAM_ID)
    assert.equal(fx.lastSecret?.payload.sub, CLIENT_ID)
    assert.ok((fx.lastSecret?.payload.exp ?? 0) > Date.now() / 1000)
    const sent = fx.vendor.seen.find((s) => s.path === '/auth/token')!
    assert.equal(sent.form.code_verifier, VERIFIER)
    assert.equal(decodeProtectedHeader(sent.form.client_secret!).alg, 'ES256')
    const user = await p.fetchUser(token)
    assert.deepEqual([user.id, user.email, user.accessToken], ['001234.apple-user', 'a@privaterelay.appleid.com', 'apple-at'])
  })

  const rejected: [string, () => Promise<string>][] = [
    ['wrong aud', () => fx.idToken({ ...fx.next, aud: 'com.other.app' })],
    ['expired', () => fx.idToken({ ...fx.next, exp: Math.floor(Date.now() / 1000) - 3600 })],
    ['wrong iss', () => fx.idToken({ ...fx.next, iss: 'https://evil.example.com' })],
    ['signed by another key', () => fx.idToken(fx.next, true)],
  ]
  for (const [name, make_] of rejected) {
    test(`an id_token with ${name} is rejected`, async () => {
      const p = make(cfg())
      const token = await p.fetchToken('apple-code', VERIFIER, 'https://app/cb')
      await assert.rejects(p.fetchUser({ ...token, idToken: await make_() }), OAuth2Error)
    })
  }

  test('an unverified Apple email is dropped; a keyFile that is not .p8 is refused', async () => {
    const p = make(cfg())
    const token = await p.fetchToken('apple-code', VERIFIER, 'https://app/cb')
    const user = await p.fetchUser({ ...token, idToken: await fx.idToken({ ...fx.next, email_verified: false }) })
    assert.equal(user.email, '')
    await assert.rejects(make({ ...cfg(), extra: { ...fx.extra, keyFile: '/etc/passwd' } }).fetchToken('apple-code', '', ''), /\.p8/)
  })
})

describe('oidc (oauth2-mock-server)', () => {
  const server = new OAuth2Server()
  before(async () => {
    await server.issuer.keys.generate('RS256')
    await server.start(0, '127.0.0.1')
    server.service.on('beforeUserinfo', (res: { body: Record<string, unknown> }) => {
      res.body = { sub: 'johndoe', name: 'John Doe', preferred_username: 'jdoe', email: 'john@example.com', email_verified: 'true', picture: 'https://i/j.png' }
    })
  })
  after(() => server.stop())

  for (const name of ['oidc', 'oidc2', 'oidc3']) {
    test(`${name}: discovery, authorize with S256, exchange with the verifier, verified id_token and userinfo`, async () => {
      const p = make({ name, clientId: 'plinth-client', extra: { discoveryURL: `${server.issuer.url}/.well-known/openid-configuration` } })
      const verifier = 'x'.repeat(20) + Math.random().toString(36).slice(2).padEnd(30, 'y')
      const challenge = createHash('sha256').update(verifier).digest('base64url')
      const authURL = await p.buildAuthURL({ state: 'st8', codeChallenge: challenge })
      const res = await fetch(authURL + encodeURIComponent('https://app.example.com/cb'), { redirect: 'manual' })
      const back = new URL(res.headers.get('location')!)
      assert.equal(back.searchParams.get('state'), 'st8')
      const token = await p.fetchToken(back.searchParams.get('code')!, verifier, 'https://app.example.com/cb')
      assert.ok(token.idToken)
      const user = await p.fetchUser(token)
      assert.deepEqual([user.id, user.name, user.username, user.email], ['johndoe', 'John Doe', 'jdoe', 'john@example.com'])
    })
  }

  test('a wrong verifier is refused by the provider', async () => {
    const p = make({ name: 'oidc', clientId: 'plinth-client', extra: { discoveryURL: `${server.issuer.url}/.well-known/openid-configuration` } })
    const challenge = createHash('sha256').update('a'.repeat(43)).digest('base64url')
    const res = await fetch((await p.buildAuthURL({ state: 's', codeChallenge: challenge })) + 'https%3A%2F%2Fapp%2Fcb', { redirect: 'manual' })
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!
    await assert.rejects(p.fetchToken(code, 'b'.repeat(43), 'https://app/cb'), OAuth2Error)
  })

  test('an id_token for another client is rejected', async () => {
    const p = make({ name: 'oidc', clientId: 'plinth-client', extra: { discoveryURL: `${server.issuer.url}/.well-known/openid-configuration` } })
    const idToken = await server.issuer.buildToken({ scopesOrTransform: (_h, payload) => Object.assign(payload, { sub: 'johndoe', aud: 'someone-else' }) })
    await assert.rejects(p.fetchUser({ accessToken: 'a', refreshToken: '', expiry: '', idToken, raw: {} }), /id_token rejected/)
  })
})

describe('oidc discovery cache', () => {
  test('a discovery document is fetched once; a failure is remembered briefly, not retried on every call', async () => {
    let served = 0
    const v = await startVendor({
      'GET /.well-known/openid-configuration': () => {
        served++
        return { body: { issuer: 'https://sso', authorization_endpoint: 'https://sso/auth', token_endpoint: 'https://sso/token', jwks_uri: 'https://sso/jwks' } }
      },
    })
    const down = await startVendor({ 'GET /.well-known/openid-configuration': () => ({ status: 503, body: {} }) })
    try {
      const p = make({ name: 'oidc', extra: { discoveryURL: `${v.url}/.well-known/openid-configuration` } })
      for (let i = 0; i < 5; i++) assert.ok((await p.buildAuthURL({ state: 's' })).startsWith('https://sso/auth?'))
      assert.equal(served, 1)
      const q = make({ name: 'oidc', extra: { discoveryURL: `${down.url}/.well-known/openid-configuration` } })
      for (let i = 0; i < 5; i++) await assert.rejects(q.buildAuthURL({ state: 's' }), OAuth2Error)
      assert.equal(down.seen.length, 1)
    } finally {
      await Promise.all([v.close(), down.close()])
    }
  })
})
