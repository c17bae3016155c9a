/**
 * Superusers on every engine: the install link (PocketBase's first-run flow), create / upsert /
 * update / delete, and the request authenticator they rely on.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyRequest } from 'fastify'
import { createAuthenticator, readUnverified } from '../../src/auth/index.ts'
import {
  INSTALLER_EMAIL,
  countSuperusers,
  createSuperuser,
  deleteSuperuser,
  installLink,
  updateSuperuserPassword,
  upsertSuperuser,
} from '../../src/auth/superusers.ts'
import { ApiError } from '../../src/errors.ts'
import { engines } from '../helpers/engines.ts'
import { startHarness, type Harness } from './harness.ts'

const asRequest = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as FastifyRequest

for (const { engine, skip } of await engines()) {
  describe(`superusers: ${engine}`, { skip }, () => {
    let h: Harness
    before(async () => {
      h = await startHarness(engine)
    })
    after(async () => h?.close())

    test('install link: a short-lived, non-refreshable superuser token until a real superuser exists', async () => {
      const warnings: string[] = []
      const deps = { records: h.records, baseUrl: 'http://127.0.0.1:8090/', log: { warn: (_o: object, m: string) => void warnings.push(m) } }
      const url = await installLink(deps)
      assert.ok(url, 'a link on a server with no superuser')
      assert.match(url, /^http:\/\/127\.0\.0\.1:8090\/_\/#\/pbinstall\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
      assert.match(warnings[0] ?? '', /pbinstall/)
      const token = url.split('/').at(-1)!
      const claims = readUnverified(token)!
      assert.equal(claims.refreshable, false)
      assert.ok(claims.exp - Date.now() / 1000 <= 30 * 60 + 5)

      const authenticate = createAuthenticator({ registry: h.registry, db: () => h.engine.db })
      const auth = await authenticate(asRequest(token))
      assert.equal(auth?.isSuperuser, true)
      assert.equal(auth?.record.email, INSTALLER_EMAIL)
      // auth-refresh hands a static token back unchanged.
      const refreshed = await h.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-refresh', headers: { authorization: token } })
      assert.equal(refreshed.statusCode, 200, refreshed.body)
      assert.equal((refreshed.json() as { token: string }).token, token)
      // A restart before the first superuser reuses the installer record.
      assert.ok(await installLink(deps))
      assert.equal(await countSuperusers(h.engine.db, h.superusers, false), 1)

      // Creating a real superuser removes the installer, which revokes the link.
      await createSuperuser(h.records, 'first@example.com', 'first-password-1')
      assert.equal(await authenticate(asRequest(token)), null)
      assert.equal(await countSuperusers(h.engine.db, h.superusers, false), 1)
      assert.equal(await installLink(deps), undefined)
    })

    test('create validates and refuses duplicates; upsert creates then updates; update revokes tokens', async () => {
      await assert.rejects(createSuperuser(h.records, 'not-an-email', 'long-enough-1'), (e: ApiError) => e.code === 'validation_failed' && 'email' in e.data)
      await assert.rejects(createSuperuser(h.records, 'x@example.com', 'short'), (e: ApiError) => 'password' in e.data)
      await assert.rejects(createSuperuser(h.records, 'first@example.com', 'another-pass-1'), (e: ApiError) => 'email' in e.data)
      assert.equal(await upsertSuperuser(h.records, 'second@example.com', 'second-pass-1'), 'created')
      const login = (password: string) =>
        h.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'second@example.com', password } })
      const first = await login('second-pass-1')
      assert.equal(first.statusCode, 200)
      assert.equal(await upsertSuperuser(h.records, 'second@example.com', 'second-pass-2'), 'updated')
      assert.equal((await login('second-pass-1')).statusCode, 400)
      assert.equal((await login('second-pass-2')).statusCode, 200)
      const authenticate = createAuthenticator({ registry: h.registry, db: () => h.engine.db })
      const token = ((await login('second-pass-2')).json() as { token: string }).token
      assert.ok(await authenticate(asRequest(`Bearer ${token}`)))
      await updateSuperuserPassword(h.records, 'second@example.com', 'second-pass-3')
      assert.equal(await authenticate(asRequest(`Bearer ${token}`)), null, 'a password change revokes older tokens')
      await assert.rejects(updateSuperuserPassword(h.records, 'ghost@example.com', 'whatever-123'), (e: ApiError) => e.code === 'not_found')
    })

    test('delete removes one superuser but never the last', async () => {
      assert.equal(await deleteSuperuser(h.records, 'ghost@example.com'), false)
      assert.equal(await deleteSuperuser(h.records, 'second@example.com'), true)
      await assert.rejects(deleteSuperuser(h.records, 'first@example.com'), /only existing superuser/)
    })

    test('authenticator: bare or Bearer tokens; guests, junk and other types are null', async () => {
      const authenticate = createAuthenticator({ registry: h.registry, db: () => h.engine.db })
      const res = await h.http.inject({
        method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'first@example.com', password: 'first-password-1' },
      })
      const token = (res.json() as { token: string }).token
      assert.equal((await authenticate(asRequest(token)))?.record.email, 'first@example.com')
      assert.equal((await authenticate(asRequest(`bearer ${token}`)))?.isSuperuser, true)
      for (const h of [undefined, '', 'Bearer ', 'junk', `${token}x`, 'Basic dXNlcjpwYXNz']) assert.equal(await authenticate(asRequest(h)), null, String(h))
    })
  })
}
