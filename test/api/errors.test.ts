/**
 * The one error path: unknown routes, oversized and malformed bodies, validation, and internal
 * failures. Bodies are exactly PocketBase's `{status, message, data}`, the stable code is in `X-Plinth-Error`; no stack
 * trace, SQL text or driver message ever reaches a client (it goes to the log, with the request id).
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { sql } from 'kysely'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { ApiError } from '../../src/errors.ts'
import { CountersUnavailableError } from '../../src/counters/errors.ts'
import { createLogger } from '../../src/log.ts'

const BODY_LIMIT = 2048

let app: Plinth
const logLines: Record<string, unknown>[] = []

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-errors-'))
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  app = await createPlinth({
    config: { env: {}, cwd: dir, overrides: { dir, bodyLimit: BODY_LIMIT, logLevel: 'info' } },
    logger: createLogger({ logLevel: 'info' }, sink),
  })
  // Routes that fail in each way a feature might.
  app.http.post('/api/test/echo', async (request) => ({ got: request.body }))
  app.http.post(
    '/api/test/validated',
    { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 3 } } } } },
    async () => ({ ok: true }),
  )
  app.http.get('/api/test/throws', async () => {
    throw new Error('SELECT password FROM _superusers WHERE id = 1 failed at secret.ts:12')
  })
  app.http.get('/api/test/bad-sql', async () => {
    await sql`SELECT * FROM no_such_table_xyz`.execute(app.sql.reader().db)
    return {}
  })
  app.http.get('/api/test/api-error', async () => {
    throw new ApiError('conflict', 'Already taken.', { name: { code: 'taken', message: 'Taken.' } })
  })
  app.http.get('/api/test/counters-down', async () => {
    throw new CountersUnavailableError('counters: redis://127.0.0.1:1 unreachable')
  })
  app.http.get('/api/test/not-an-error', async () => {
    throw 'a bare string'
  })
})
after(() => app?.stop())

interface Scenario {
  name: string
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  url: string
  headers?: Record<string, string>
  body?: string
  status: number
  code: string
  data?: Record<string, unknown>
  /** Text that must never appear in the response. */
  notExpected?: RegExp[]
}

const leaks = [/\bat [\w.<>]+ \(/, /stack/i, /node_modules/, /\.ts:\d+/]

const scenarios: Scenario[] = [
  { name: 'unknown route', method: 'GET', url: '/api/nope', status: 404, code: 'not_found' },
  { name: 'unknown route outside /api', method: 'GET', url: '/index.php?x=1', status: 404, code: 'not_found' },
  { name: 'unknown method on a known path', method: 'DELETE', url: '/api/health', status: 404, code: 'not_found' },
  {
    name: 'body over the configured limit',
    method: 'POST',
    url: '/api/test/echo',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT) }),
    status: 413,
    code: 'body_too_large',
  },
  {
    name: 'malformed JSON',
    method: 'POST',
    url: '/api/test/echo',
    headers: { 'content-type': 'application/json' },
    body: '{"name": "abc",',
    status: 400,
    code: 'invalid_json',
    notExpected: [/Unexpected end/, /JSON\.parse/],
  },
  { name: 'unsupported content type', method: 'POST', url: '/api/test/echo', headers: { 'content-type': 'application/x-unknown' }, body: 'a=1', status: 415, code: 'unsupported_media_type' },
  {
    name: 'schema validation names the field',
    method: 'POST',
    url: '/api/test/validated',
    headers: { 'content-type': 'application/json' },
    body: '{"name":"ab"}',
    status: 400,
    code: 'validation_failed',
    data: { name: { code: 'validation_length_too_short', message: 'The length must be no less than 3.', params: { min: 3, max: 0 } } },
  },
  {
    name: 'an internal error is a bare 500',
    method: 'GET',
    url: '/api/test/throws',
    status: 500,
    code: 'internal',
    notExpected: [/SELECT/, /password/, /_superusers/, /secret/],
  },
  {
    name: 'a SQL error is a bare 500 without SQL or driver text',
    method: 'GET',
    url: '/api/test/bad-sql',
    status: 500,
    code: 'internal',
    notExpected: [/no_such_table_xyz/, /SELECT/i, /sqlite/i, /SqliteError/],
  },
  { name: 'counters that cannot count refuse the request: 503, never a pass', method: 'GET', url: '/api/test/counters-down', status: 503, code: 'unavailable', notExpected: [/redis:/] },
  { name: 'a thrown non-Error is a bare 500', method: 'GET', url: '/api/test/not-an-error', status: 500, code: 'internal', notExpected: [/bare string/] },
  {
    name: 'an ApiError keeps its status, message and data',
    method: 'GET',
    url: '/api/test/api-error',
    status: 409,
    code: 'conflict',
    data: { name: { code: 'taken', message: 'Taken.' } },
  },
]

describe('lenient JSON bodies', () => {
  const post = (body: string) => app.http.inject({ method: 'POST', url: '/api/test/echo', headers: { 'content-type': 'application/json' }, body })

  // PocketBase's SDK sends `Content-Type: application/json` with no body on DELETE and refresh calls.
  test('an empty JSON body is an empty object', async () => {
    const res = await post('')
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { got: {} })
  })

  test('__proto__ and constructor keys are dropped, never merged', async () => {
    const res = await post('{"a":1,"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}')
    assert.equal(res.statusCode, 200)
    assert.deepEqual(res.json(), { got: { a: 1 } })
    assert.equal(({} as Record<string, unknown>).admin, undefined)
  })
})

describe('errors', () => {
  for (const s of scenarios) {
    test(s.name, async () => {
      const res = await app.http.inject({ method: s.method, url: s.url, headers: s.headers, body: s.body })
      assert.equal(res.statusCode, s.status, res.body)
      assert.match(String(res.headers['content-type']), /^application\/json/)
      const body = res.json() as { status: number; message: string; data: Record<string, unknown> }
      assert.equal(body.status, s.status)
      assert.equal(res.headers['x-plinth-error'], s.code)
      assert.equal(typeof body.message, 'string')
      assert.deepEqual(Object.keys(body).sort(), ['data', 'message', 'status'])
      assert.deepEqual(body.data, s.data ?? {})
      for (const re of [...leaks, ...(s.notExpected ?? [])]) assert.doesNotMatch(res.body, re)
    })
  }

  test('the details of a 500 go to the log, with the request id', async () => {
    const res = await app.http.inject({ url: '/api/test/bad-sql', headers: { 'x-request-id': 'trace-sql-500' } })
    assert.equal(res.statusCode, 500)
    const line = logLines.find((l) => l.reqId === 'trace-sql-500' && l.level === 50)
    assert.ok(line, 'an error line for the request')
    assert.match(JSON.stringify(line.err), /no_such_table_xyz/)
  })
})
