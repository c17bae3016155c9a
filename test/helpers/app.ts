/**
 * A whole Plinth (createPlinth, not listening) over a fresh database on one engine, with a
 * superuser signed in, for scenario tables through `app.http.inject()`.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { isAuthCollection } from '../../src/records/model.ts'
import { createTestDb, type EngineName, type TestDb } from './engines.ts'

export interface TestApp {
  app: Plinth
  /** The superuser's token (for the `authorization` header). */
  su: string
  /** Sends one request; `token` goes in the `authorization` header when given. */
  call(method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>
  /** Signs in a record of an auth collection with its password; returns the token. */
  login(collection: string, email: string, password: string): Promise<string>
  /** Sends as the superuser and fails the test unless the answer is 2xx. */
  must(method: string, url: string, body?: unknown): Promise<unknown>
  close(): Promise<void>
}

/**
 * Rate limits off for suites about something else: a test sends hundreds of requests a second
 * from one address, which is what the default rules refuse (test/api/security.test.ts tests them).
 */
export const NO_RATE_LIMITS = { enabled: false }

/** `overrides`: config keys on top of the test defaults (e.g. `{ signatures: {...} }`). */
export async function startApp(engine: EngineName, overrides: Record<string, unknown> = {}): Promise<TestApp> {
  let testDb: TestDb | undefined
  let dir: string | undefined
  let app: Plinth | undefined
  try {
    testDb = await createTestDb(engine)
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-app-'))
    app = await createPlinth({
      config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, logLevel: 'silent', rateLimits: NO_RATE_LIMITS, ...overrides } },
      logger: createLogger({ logLevel: 'silent' }),
    })
    const superusers = app.collections.getOrThrow('_superusers')
    assert.ok(isAuthCollection(superusers))
    await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  } catch (err) {
    await app?.stop()
    await testDb?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const plinth = app
  const call: TestApp['call'] = (method, url, opts = {}) =>
    plinth.http.inject({
      method: method as 'GET',
      url,
      headers: { ...(opts.token ? { authorization: opts.token } : {}), ...opts.headers },
      ...(opts.body === undefined ? {} : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? { payload: opts.body } : { payload: opts.body as object }),
    })
  const login: TestApp['login'] = async (collection, email, password) => {
    const res = await call('POST', `/api/collections/${collection}/auth-with-password`, { body: { identity: email, password } })
    assert.equal(res.statusCode, 200, `login ${email}: ${res.body}`)
    return res.json<{ token: string }>().token
  }
  const su = await login('_superusers', 'root@example.com', 'root-password-1')
  const db = testDb
  const tmp = dir
  return {
    app: plinth,
    su,
    call,
    login,
    async must(method, url, body) {
      const res = await call(method, url, { token: su, body })
      assert.ok(res.statusCode >= 200 && res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`)
      return res.body ? (JSON.parse(res.body) as unknown) : undefined
    },
    async close() {
      await plinth.stop()
      await db.drop()
      rmSync(tmp, { recursive: true, force: true })
    },
  }
}

/** A PocketBase-style API scenario: one request, its status, and substrings the body must (not) hold. */
export interface ApiScenario {
  name: string
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  url: string
  headers?: Record<string, string>
  body?: unknown
  expectedStatus: number
  expectedContent?: string[]
  notExpectedContent?: string[]
}

/** Checks one answer against a scenario's expectations, with the body in every message. */
export function checkResponse(s: Pick<ApiScenario, 'expectedStatus' | 'expectedContent' | 'notExpectedContent'>, res: LightMyRequestResponse): void {
  const body = res.body.length > 1500 ? `${res.body.slice(0, 1500)}...` : res.body
  assert.equal(res.statusCode, s.expectedStatus, `status; body: ${body}`)
  for (const text of s.expectedContent ?? []) assert.ok(res.body.includes(text), `expected ${text} in ${body}`)
  for (const text of s.notExpectedContent ?? []) assert.ok(!res.body.includes(text), `did not expect ${text} in ${body}`)
}

const BOUNDARY = '----plinth-test-boundary'

/** A multipart/form-data body of text parts, and its content-type header. */
export function multipart(parts: [string, string][]): { body: Buffer; headers: Record<string, string> } {
  const chunks = parts.map(([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
  return { body: Buffer.from(`${chunks.join('')}--${BOUNDARY}--\r\n`), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }
}
