/**
 * PocketBase's own JS SDK against the auth endpoints over a real socket, with the real system
 * migrations and collection store (SQLite): what an app written for PocketBase does on day one.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import PocketBase from 'pocketbase'
import { createAuthenticator, createSuperuser } from '../../src/auth/index.ts'
import { recordAuthRoutes } from '../../src/api/record-auth.ts'
import { AuthThrottle, DEFAULT_AUTH_THROTTLE } from '../../src/auth/throttle.ts'
import { memoryCounters } from '../../src/counters/memory.ts'
import type { Counters } from '../../src/counters/counters.ts'

/** The auth routes' counters and their throttle, as the app gives them. */
const throttled = (counters: Counters) => ({ counters, throttle: new AuthThrottle(counters, DEFAULT_AUTH_THROTTLE) })
import { installErrorHandling } from '../../src/api/error-handler.ts'
import { installJsonBodyParser } from '../../src/api/json-body.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { createLogger } from '../../src/log.ts'
import { CollectionStore } from '../../src/records/collections/store.ts'
import { isAuthCollection } from '../../src/records/model.ts'
import { RecordsService } from '../../src/records/records-service.ts'
import { migrate } from '../../src/sql/migrate.ts'
import { systemMigrations } from '../../src/records/collections/migrations.ts'
import { openSql } from '../../src/sql/open.ts'
import { SqlRouter } from '../../src/sql/router.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, type TestDb } from '../helpers/engines.ts'
import { CaptureMailer, insertAuthRecord, type Harness } from './harness.ts'
import { decorateClientIp } from '../../src/api/client-ip.ts'

describe('PocketBase JS SDK against the auth API (SQLite, real collections)', () => {
  let testDb: TestDb
  let engine: SqlEngine
  let http: FastifyInstance
  let url: string
  const mail = new CaptureMailer()

  before(async () => {
    testDb = await createTestDb('sqlite')
    engine = await openSql(parseDbUrl(testDb.url, 'db'))
    await migrate(engine, systemMigrations(engine.dialect))
    const registry = await CollectionStore.open(engine)
    const users = registry.get('users')
    const superusers = registry.get('_superusers')
    assert.ok(users && isAuthCollection(users) && superusers && isAuthCollection(superusers))
    await insertAuthRecord({ engine } as Harness, users, { email: 'sdk@example.com', password: 'sdk-password-1', extra: { name: 'Sdk User' } })
    await insertAuthRecord({ engine } as Harness, users, { email: 'reset@example.com', password: 'reset-password-1' })
    const records = new RecordsService(registry, new SqlRouter(engine))
    await createSuperuser(records, 'root@example.com', 'root-password-1')

    http = Fastify({ loggerInstance: createLogger({ logLevel: 'silent' }) as FastifyBaseLogger })

    decorateClientIp(http, { trustProxy: false, trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false } })
    installErrorHandling(http)
    installJsonBodyParser(http)
    const authenticate = createAuthenticator({ registry, db: () => engine.db })
    http.decorateRequest('auth', null)
    http.addHook('onRequest', async (request) => {
      request.auth = await authenticate(request)
    })
    await http.register(recordAuthRoutes, { registry, records, db: () => engine, mail, authenticate, appUrl: 'http://127.0.0.1', ...throttled(memoryCounters()) })
    await http.listen({ host: '127.0.0.1', port: 0 })
    url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`
  })
  after(async () => {
    await http?.close()
    await engine?.close()
    await testDb?.drop()
  })

  test('listAuthMethods shows password auth by email', async () => {
    const methods = await new PocketBase(url).collection('users').listAuthMethods()
    assert.deepEqual(methods.password, { enabled: true, identityFields: ['email'] })
  })

  test('authWithPassword fills the auth store', async () => {
    const pb = new PocketBase(url)
    const auth = await pb.collection('users').authWithPassword('sdk@example.com', 'sdk-password-1')
    assert.equal(auth.record.email, 'sdk@example.com')
    assert.equal(auth.record.name, 'Sdk User')
    assert.equal(pb.authStore.isValid, true)
    assert.equal(pb.authStore.isSuperuser, false)
    assert.equal(pb.authStore.record?.id, auth.record.id)
  })

  test('authRefresh (JSON content type, no body) keeps the record', async () => {
    const pb = new PocketBase(url)
    const auth = await pb.collection('users').authWithPassword('sdk@example.com', 'sdk-password-1')
    const refreshed = await pb.collection('users').authRefresh()
    assert.equal(refreshed.record.id, auth.record.id)
    assert.equal(pb.authStore.isValid, true)
  })

  test('a wrong password is 400 "Failed to authenticate."', async () => {
    const pb = new PocketBase(url)
    await assert.rejects(pb.collection('users').authWithPassword('sdk@example.com', 'wrong'), (e: { status: number; message: string }) => {
      return e.status === 400 && e.message === 'Failed to authenticate.'
    })
    assert.equal(pb.authStore.isValid, false)
  })

  test('superusers: pb.collection("_superusers").authWithPassword; the SDK recognises the token', async () => {
    const pb = new PocketBase(url)
    await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1')
    assert.equal(pb.authStore.isSuperuser, true)
  })

  test('requestPasswordReset + confirmPasswordReset through the SDK', async () => {
    const pb = new PocketBase(url)
    const mailed = mail.next()
    // Its own user: the other tests keep signing in with sdk@example.com's first password.
    assert.equal(await pb.collection('users').requestPasswordReset('reset@example.com'), true)
    const token = /confirm-password-reset\/([^\s"]+)/.exec((await mailed).text ?? '')?.[1]
    assert.ok(token)
    assert.equal(await pb.collection('users').confirmPasswordReset(token, 'reset-password-2', 'reset-password-2'), true)
    await pb.collection('users').authWithPassword('reset@example.com', 'reset-password-2')
    assert.equal(pb.authStore.isValid, true)
  })
})
