/**
 * A whole Plinth app over a fresh database, driven through `app.http.inject()`, for the records
 * API tables (records-write, records-pocketbase): a superuser token, users, collections.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { isAuthCollection } from '../../src/records/model.ts'
import { createTestDb, type EngineName, type TestDb } from '../helpers/engines.ts'
import { NO_RATE_LIMITS } from '../helpers/app.ts'

export interface Reply {
  status: number
  body: Record<string, unknown> & { data?: Record<string, { code: string; message: string; params?: Record<string, unknown> }> }
  raw: string
  headers: Record<string, unknown>
}

export interface RecordsApp {
  app: Plinth
  /** The superuser's Authorization header value. */
  su: string
  call(method: string, url: string, opts?: { body?: unknown; token?: string; payload?: string; contentType?: string }): Promise<Reply>
  /** A user of `users` with its token. */
  user(email: string): Promise<{ id: string; token: string }>
  collection(def: Record<string, unknown>): Promise<{ id: string; name: string }>
  close(): Promise<void>
}

/** `overrides`: extra config (e.g. `cdn`), merged over the test defaults. */
export async function startRecordsApp(engine: EngineName, overrides: Record<string, unknown> = {}): Promise<RecordsApp> {
  const testDb: TestDb = await createTestDb(engine)
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-records-'))
  const app = await createPlinth({
    config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'silent', rateLimits: NO_RATE_LIMITS, ...overrides } },
    logger: createLogger({ logLevel: 'silent' }),
  })
  const superusers = app.collections.getOrThrow('_superusers')
  assert.ok(isAuthCollection(superusers))
  await createSuperuser(app.records, 'root@example.com', 'root-password-1')

  const call: RecordsApp['call'] = async (method, url, opts = {}) => {
    const headers: Record<string, string> = {}
    if (opts.token) headers.authorization = opts.token
    let payload: string | undefined = opts.payload
    if (payload === undefined && opts.body !== undefined) payload = JSON.stringify(opts.body)
    if (payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json'
    const res = await app.http.inject({ method: method as 'GET', url, headers, payload })
    let body: Reply['body']
    try {
      body = res.body ? (JSON.parse(res.body) as Reply['body']) : {}
    } catch {
      body = {}
    }
    return { status: res.statusCode, body, raw: res.body, headers: res.headers }
  }
  const login = await call('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: 'root@example.com', password: 'root-password-1' } })
  assert.equal(login.status, 200, login.raw)
  const su = String(login.body.token)

  return {
    app,
    su,
    call,
    async user(email) {
      const created = await call('POST', '/api/collections/users/records', { token: su, body: { email, password: 'password-123', passwordConfirm: 'password-123' } })
      assert.equal(created.status, 200, created.raw)
      const auth = await call('POST', '/api/collections/users/auth-with-password', { body: { identity: email, password: 'password-123' } })
      assert.equal(auth.status, 200, auth.raw)
      return { id: String(created.body.id), token: String(auth.body.token) }
    },
    async collection(def) {
      const res = await call('POST', '/api/collections', { token: su, body: def })
      assert.equal(res.status, 200, res.raw)
      return { id: String(res.body.id), name: String(res.body.name) }
    },
    async close() {
      await app.stop()
      await testDb.drop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A multipart/form-data payload from `[name, value]` text parts. */
export function multipart(parts: [string, string][]): { payload: string; contentType: string } {
  const boundary = '----plinthtest' + Math.random().toString(16).slice(2)
  let payload = ''
  for (const [name, value] of parts) payload += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  payload += `--${boundary}--\r\n`
  return { payload, contentType: `multipart/form-data; boundary=${boundary}` }
}

/** A fake, well-formed record id (15 characters [a-z0-9]). */
export const fakeId = (i: number): string => `x${i.toString(36).padStart(14, '0')}`
