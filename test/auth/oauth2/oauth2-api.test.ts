/**
 * OAuth2 sign-in end to end: a whole Plinth listening on a real port, PocketBase's JS SDK as the
 * client (listAuthMethods, authWithOAuth2Code), the vendors as local servers. Covers the first
 * sign-in (record created, verified, linked), linking an existing verified account, the account
 * pre-hijacking case (CVE-2024-38351), WeChat's unionid, Apple's id_token checks, createRule, and
 * client secrets that never leave the server.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { OAuth2Server } from 'oauth2-mock-server'
import PocketBase, { ClientResponseError } from 'pocketbase'
import { startApp, type TestApp } from '../../helpers/app.ts'
import { engines } from '../../helpers/engines.ts'
import { CLIENT_ID, startApple, type AppleFixture } from '../../helpers/apple.ts'
import { startVendor, type Vendor } from '../../helpers/vendor.ts'

interface Profile {
  sub: string
  email: string
  email_verified: boolean
  name?: string
}

for (const { engine, skip } of await engines()) describe(`auth-with-oauth2 through the PocketBase SDK (${engine})`, { skip }, () => {
  let t: TestApp
  let base: string
  let google: Vendor
  let wechat: Vendor
  let apple: AppleFixture
  let dir: string
  const sso = new OAuth2Server()
  /** What Google says about the holder of each code. */
  const profiles = new Map<string, Profile>()
  const pb = () => new PocketBase(base)

  const googleConfig = () => ({
    name: 'google', clientId: 'g-client', clientSecret: 'g-secret-never-served',
    authURL: `${google.url}/auth`, tokenURL: `${google.url}/token`, userInfoURL: `${google.url}/userinfo`,
  })

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-oauth2-'))
    google = await startVendor({
      'POST /token': (r) =>
        profiles.has(r.form.code!) && r.form.client_secret === 'g-secret-never-served'
          ? { body: { access_token: `at:${r.form.code}`, expires_in: 3600, token_type: 'Bearer' } }
          : { status: 400, body: { error: 'invalid_grant' } },
      'GET /userinfo': (r) => ({ body: profiles.get(String(r.headers.authorization).replace('Bearer at:', '')) ?? {} }),
    })
    wechat = await startVendor({
      'GET /sns/oauth2/access_token': (r) =>
        r.query.code === 'wx-bad'
          ? { body: { errcode: 40029, errmsg: 'invalid code' } }
          : { body: { access_token: `wx:${r.query.appid}`, expires_in: 7200, openid: `open-${r.query.appid}`, unionid: 'union-42' } },
      'GET /sns/userinfo': (r) => ({ body: { openid: r.query.openid, unionid: 'union-42', nickname: 'Wei', headimgurl: 'https://wx/h.png' } }),
    })
    apple = await startApple(dir)
    await sso.issuer.keys.generate('RS256')
    await sso.start(0, '127.0.0.1')
    sso.service.on('beforeUserinfo', (res: { body: Record<string, unknown> }) => {
      res.body = { sub: 'johndoe', name: 'John Doe', preferred_username: 'jdoe', email: 'john@sso.example.com', email_verified: true }
    })
    t = await startApp(engine)
    await t.app.http.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(t.app.http.server.address() as AddressInfo).port}`
    await t.must('PATCH', '/api/collections/users', {
      oauth2: {
        enabled: true,
        providers: [
          googleConfig(),
          { name: 'wechat', clientId: 'wxweb', clientSecret: 'wx-secret', tokenURL: `${wechat.url}/sns/oauth2/access_token`, userInfoURL: `${wechat.url}/sns/userinfo`, extra: { appId: 'wxapp', appSecret: 'wxapp-secret' } },
          { name: 'apple', clientId: CLIENT_ID, clientSecret: '', tokenURL: `${apple.vendor.url}/auth/token`, extra: apple.extra },
          { name: 'oidc2', clientId: 'plinth', clientSecret: 'sso-secret', displayName: 'SSO', extra: { discoveryURL: `${sso.issuer.url}/.well-known/openid-configuration` } },
        ],
      },
    })
  })
  after(async () => {
    await t?.close()
    await Promise.all([google?.close(), wechat?.close(), apple?.vendor.close(), sso.stop().catch(() => undefined)])
    rmSync(dir, { recursive: true, force: true })
  })

  const status = async (p: Promise<unknown>): Promise<{ status: number; data: Record<string, unknown> }> => {
    try {
      await p
    } catch (err) {
      assert.ok(err instanceof ClientResponseError, String(err))
      return { status: err.status, data: err.response as Record<string, unknown> }
    }
    assert.fail('expected a refusal')
  }

  test('client secrets are never served, and saving back what was read keeps them', async () => {
    const res = await t.call('GET', '/api/collections/users', { token: t.su })
    assert.equal(res.statusCode, 200)
    assert.ok(!res.body.includes('g-secret-never-served') && !res.body.includes('wx-secret'), res.body)
    const read = res.json<{ oauth2: unknown }>()
    const saved = await t.call('PATCH', '/api/collections/users', { token: t.su, body: { oauth2: read.oauth2 } })
    assert.equal(saved.statusCode, 200, saved.body)
    assert.ok(!saved.body.includes('g-secret-never-served'))
    profiles.set('keep', { sub: 'g-keep', email: 'keep@example.com', email_verified: true })
    assert.equal((await pb().collection('users').authWithOAuth2Code('google', 'keep', 'v'.repeat(43), 'https://app/cb')).record.email, 'keep@example.com')
  })

  test('auth-methods lists each provider with state, PKCE pair and authURL (PocketBase shape)', async () => {
    const methods = await pb().collection('users').listAuthMethods()
    assert.equal(methods.oauth2.enabled, true)
    const g = methods.oauth2.providers.find((p) => p.name === 'google')!
    assert.equal(g.displayName, 'Google')
    assert.equal(g.codeChallengeMethod, 'S256')
    assert.equal(g.codeChallenge, createHash('sha256').update(g.codeVerifier).digest('base64url'))
    assert.ok(g.state.length >= 30 && g.authURL.endsWith('&redirect_uri='))
    const q = new URL(g.authURL).searchParams
    assert.deepEqual([q.get('client_id'), q.get('state'), q.get('code_challenge')], ['g-client', g.state, g.codeChallenge])
    const w = methods.oauth2.providers.find((p) => p.name === 'wechat')!
    assert.equal(w.codeChallengeMethod, '')
    assert.ok(!JSON.stringify(methods).includes('secret'))
  })

  test('first sign-in creates a verified record with mapped fields and a link; the next one finds it', async () => {
    profiles.set('new1', { sub: 'g-100', email: 'new@example.com', email_verified: true, name: 'New Person' })
    const verifier = 'n'.repeat(43)
    const first = await pb().collection('users').authWithOAuth2Code('google', 'new1', verifier, 'https://app/cb', { emailVisibility: true })
    const sent = google.seen.filter((s) => s.path === '/token').at(-1)!
    assert.deepEqual([sent.form.grant_type, sent.form.code, sent.form.code_verifier, sent.form.redirect_uri], ['authorization_code', 'new1', verifier, 'https://app/cb'])
    assert.equal(first.record.email, 'new@example.com')
    assert.equal(first.record.verified, true)
    assert.equal(first.record.name, 'New Person')
    assert.equal(first.meta?.isNew, true)
    assert.equal(first.meta?.id, 'g-100')
    assert.equal(first.meta?.accessToken, 'at:new1')
    assert.deepEqual(Object.keys(first.meta!).sort(), ['accessToken', 'avatarURL', 'avatarUrl', 'email', 'expiry', 'id', 'isNew', 'name', 'rawUser', 'refreshToken', 'username'])
    profiles.set('new2', profiles.get('new1')!)
    const again = await pb().collection('users').authWithOAuth2Code('google', 'new2', verifier, 'https://app/cb')
    assert.equal(again.record.id, first.record.id)
    assert.equal(again.meta?.isNew, false)
    const links = (await t.must('GET', `/api/collections/_externalAuths/records?filter=${encodeURIComponent(`recordRef='${first.record.id}'`)}`)) as { items: { provider: string; providerId: string }[] }
    assert.deepEqual(links.items.map((l) => [l.provider, l.providerId]), [['google', 'g-100']])
  })

  test('an existing verified account is linked by the vendor-verified email', async () => {
    const made = (await t.must('POST', '/api/collections/users/records', { email: 'known@example.com', password: 'known-password-1', passwordConfirm: 'known-password-1', verified: true })) as { id: string }
    profiles.set('known', { sub: 'g-200', email: 'known@example.com', email_verified: true })
    const res = await pb().collection('users').authWithOAuth2Code('google', 'known', 'k'.repeat(43), 'https://app/cb')
    assert.equal(res.record.id, made.id)
    assert.equal(res.meta?.isNew, false)
    // The password still works: a verified account is linked as it is.
    await pb().collection('users').authWithPassword('known@example.com', 'known-password-1')
  })

  test('an email the vendor did not verify never reaches an existing account', async () => {
    profiles.set('liar', { sub: 'g-evil', email: 'known@example.com', email_verified: false })
    const known = (await t.must('GET', `/api/collections/users/records?filter=${encodeURIComponent("email='known@example.com'")}`)) as { items: { id: string }[] }
    const r = await pb().collection('users').authWithOAuth2Code('google', 'liar', 'l'.repeat(43), 'https://app/cb').then(
      (ok) => ok.record.id,
      () => 'refused',
    )
    assert.notEqual(r, known.items[0]!.id)
  })

  test('CVE-2024-38351: a pre-registered unverified account is taken from its maker, not handed over', async () => {
    // The attacker registers the victim's address with a password, and links a WeChat identity to it.
    const attacker = pb()
    await attacker.collection('users').create({ email: 'victim@example.com', password: 'attacker-pass-1', passwordConfirm: 'attacker-pass-1' })
    await attacker.collection('users').authWithPassword('victim@example.com', 'attacker-pass-1')
    const wx = await attacker.collection('users').authWithOAuth2Code('wechat', 'wx-1', '', 'https://app/cb')
    assert.equal(wx.record.email, 'victim@example.com')
    assert.equal(wx.record.verified, false)
    const attackerToken = attacker.authStore.token

    // The victim signs in with Google, which verified the address.
    profiles.set('victim', { sub: 'g-victim', email: 'victim@example.com', email_verified: true })
    const victim = await pb().collection('users').authWithOAuth2Code('google', 'victim', 'x'.repeat(43), 'https://app/cb')
    assert.equal(victim.record.id, wx.record.id)
    assert.equal(victim.record.verified, true)

    // The attacker's password, token and WeChat link are all gone.
    assert.equal((await status(pb().collection('users').authWithPassword('victim@example.com', 'attacker-pass-1'))).status, 400)
    const stale = pb()
    stale.authStore.save(attackerToken, null)
    assert.equal((await status(stale.collection('users').authRefresh())).status, 401)
    const links = (await t.must('GET', `/api/collections/_externalAuths/records?filter=${encodeURIComponent(`recordRef='${victim.record.id}'`)}`)) as { items: { provider: string }[] }
    assert.deepEqual(links.items.map((l) => l.provider), ['google'])
    const back = await pb().collection('users').authWithOAuth2Code('wechat', 'wx-2', '', 'https://app/cb', { email: 'victim@example.com' }).then(
      (ok) => ok.record.id,
      () => 'refused',
    )
    assert.notEqual(back, victim.record.id)
  })

  test('WeChat: the unionid is the id, so web and app logins reach the same record', async () => {
    const web = await pb().collection('users').authWithOAuth2Code('wechat', 'wx-web', '', 'https://app/cb', { email: 'wei@example.com' })
    assert.equal(web.meta?.id, 'union-42')
    // An app login: the mobile SDK's code, no redirect URL, the app's AppID.
    const app = await pb().collection('users').authWithOAuth2Code('wechat', 'wx-app', '', '')
    assert.equal(wechat.seen.filter((s) => s.path === '/sns/oauth2/access_token').at(-1)!.query.appid, 'wxapp')
    assert.equal(app.record.id, web.record.id)
    const bad = await status(pb().collection('users').authWithOAuth2Code('wechat', 'wx-bad', '', 'https://app/cb'))
    assert.deepEqual([bad.status, bad.data.message], [400, 'Failed to fetch OAuth2 token.'])
  })

  test('Apple: a good id_token signs in; wrong aud or expired is refused', async () => {
    apple.next = { iss: 'https://appleid.apple.com', aud: CLIENT_ID, sub: 'apple-77', email: 'apple@example.com', email_verified: true }
    const ok = await pb().collection('users').authWithOAuth2Code('apple', 'apple-code', 'a'.repeat(43), 'https://app/cb')
    assert.equal(ok.record.email, 'apple@example.com')
    for (const claims of [{ ...apple.next, aud: 'com.evil.app' }, { ...apple.next, exp: Math.floor(Date.now() / 1000) - 3600 }]) {
      apple.next = claims
      const r = await status(pb().collection('users').authWithOAuth2Code('apple', 'apple-code', 'a'.repeat(43), 'https://app/cb'))
      assert.deepEqual([r.status, r.data.message], [400, 'Failed to fetch OAuth2 user.'])
    }
  })

  test('OIDC end to end: auth-methods URL, the provider redirects back with state, the SDK signs in with the PKCE verifier', async () => {
    const methods = await pb().collection('users').listAuthMethods()
    const p = methods.oauth2.providers.find((x) => x.name === 'oidc2')!
    assert.equal(p.displayName, 'SSO')
    const res = await fetch(p.authURL + encodeURIComponent('https://app.example.com/cb'), { redirect: 'manual' })
    const back = new URL(res.headers.get('location')!)
    assert.equal(back.searchParams.get('state'), p.state)
    const auth = await pb().collection('users').authWithOAuth2Code('oidc2', back.searchParams.get('code')!, p.codeVerifier, 'https://app.example.com/cb')
    assert.deepEqual([auth.record.email, auth.record.verified, auth.meta?.id, auth.meta?.username], ['john@sso.example.com', true, 'johndoe', 'jdoe'])
    // The code was bound to the challenge: another verifier is refused by the provider.
    const again = await fetch(p.authURL + encodeURIComponent('https://app.example.com/cb'), { redirect: 'manual' })
    const code = new URL(again.headers.get('location')!).searchParams.get('code')!
    const r = await status(pb().collection('users').authWithOAuth2Code('oidc2', code, 'w'.repeat(43), 'https://app.example.com/cb'))
    assert.deepEqual([r.status, r.data.message], [400, 'Failed to fetch OAuth2 token.'])
  })

  test('a new record honours the createRule; existing links still sign in', async () => {
    await t.must('PATCH', '/api/collections/users', { createRule: null })
    try {
      profiles.set('closed', { sub: 'g-closed', email: 'closed@example.com', email_verified: true })
      const r = await status(pb().collection('users').authWithOAuth2Code('google', 'closed', 'c'.repeat(43), 'https://app/cb'))
      assert.equal(r.status, 403)
      profiles.set('new3', { sub: 'g-100', email: 'new@example.com', email_verified: true })
      assert.equal((await pb().collection('users').authWithOAuth2Code('google', 'new3', 'c'.repeat(43), 'https://app/cb')).record.email, 'new@example.com')
    } finally {
      await t.must('PATCH', '/api/collections/users', { createRule: '' })
    }
  })

  test("MFA: OAuth2 is the 'oauth2' method, a second factor after a password (and not after itself)", async () => {
    await t.must('PATCH', '/api/collections/users', { mfa: { enabled: true, duration: 600, rule: '' } })
    try {
      const first = await status(pb().collection('users').authWithPassword('known@example.com', 'known-password-1'))
      assert.equal(first.status, 401)
      const mfaId = String(first.data.mfaId)
      profiles.set('mfa1', { sub: 'g-200', email: 'known@example.com', email_verified: true })
      const done = await pb().collection('users').authWithOAuth2Code('google', 'mfa1', 'm'.repeat(43), 'https://app/cb', undefined, { mfaId })
      assert.equal(done.record.email, 'known@example.com')
      assert.equal(done.meta?.id, 'g-200')
      // OAuth2 alone is only a first factor.
      profiles.set('mfa2', profiles.get('mfa1')!)
      assert.equal((await status(pb().collection('users').authWithOAuth2Code('google', 'mfa2', 'm'.repeat(43), 'https://app/cb'))).status, 401)
    } finally {
      await t.must('PATCH', '/api/collections/users', { mfa: { enabled: false } })
    }
  })

  test('body validation, unknown providers and disabled collections', async () => {
    const post = (body: unknown, collection = 'users') => t.call('POST', `/api/collections/${collection}/auth-with-oauth2`, { body })
    let res = await post({ provider: 'google' })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json<{ data: Record<string, { code: string }> }>().data.code?.code, 'validation_required')
    res = await post({ provider: 'facebook', code: 'x' })
    assert.equal(res.json<{ data: Record<string, { code: string }> }>().data.provider?.code, 'validation_invalid_provider')
    res = await post({ provider: 'google', code: 'x', createData: 'not an object' })
    assert.equal(res.statusCode, 400)
    res = await post({ provider: 'google', code: 'x' }, '_superusers')
    assert.equal(res.statusCode, 403)
  })

  test('collection settings: unknown provider names, duplicates and missing ids are refused', async () => {
    const res = await t.call('PATCH', '/api/collections/users', {
      token: t.su,
      body: { oauth2: { enabled: true, providers: [{ name: 'myspace', clientId: 'a', clientSecret: 'b' }, { ...googleConfig(), clientId: '' }, googleConfig(), { ...googleConfig(), tokenURL: 'not a url' }] } },
    })
    assert.equal(res.statusCode, 400)
    const p = res.json<{ data: { oauth2: { providers: Record<string, Record<string, { code: string }>> } } }>().data.oauth2.providers
    assert.equal(p['0']!.name!.code, 'validation_missing_provider')
    assert.equal(p['1']!.clientId!.code, 'validation_required')
    assert.equal(p['2']!.name!.code, 'validation_duplicated_provider')
    assert.equal(p['3']!.tokenURL!.code, 'validation_is_url')
  })
})
