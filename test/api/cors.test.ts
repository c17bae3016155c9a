/**
 * CORS as PocketBase does it: every origin by default (`*`), preflight requests answered, and
 * `cors.origins` narrowing it to a list. Browsers may read the error code and request id headers.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createLogger } from '../../src/log.ts'

const quiet = () => createLogger({ logLevel: 'silent' }, new Writable({ write: (_c, _e, done) => done() }))

function makeApp(overrides: ConfigInput): Promise<Plinth> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-cors-'))
  return createPlinth({ config: { env: {}, cwd: dir, overrides: { dir, ...overrides } }, logger: quiet() })
}

const preflight = (origin: string) => ({
  method: 'OPTIONS' as const,
  url: '/api/collections/posts/records',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
})

describe('CORS: the default allows every origin', () => {
  let app: Plinth
  before(async () => {
    app = await makeApp({})
  })
  after(() => app?.stop())

  test('a preflight request is answered 204 with the method and headers allowed', async () => {
    const res = await app.http.inject(preflight('https://app.example.com'))
    assert.equal(res.statusCode, 204)
    assert.equal(res.headers['access-control-allow-origin'], '*')
    assert.match(String(res.headers['access-control-allow-methods']), /\bPOST\b/)
    assert.match(String(res.headers['access-control-allow-methods']), /\bPATCH\b/)
    assert.match(String(res.headers['access-control-allow-headers']), /authorization/i)
  })

  test('answers, errors included, carry the origin header and expose the error code header', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/api/no-such-route', headers: { origin: 'https://app.example.com' } })
    assert.equal(res.statusCode, 404)
    assert.equal(res.headers['access-control-allow-origin'], '*')
    assert.match(String(res.headers['access-control-expose-headers']), /x-plinth-error/)
  })
})

describe('CORS: cors.origins narrows it', () => {
  let app: Plinth
  before(async () => {
    app = await makeApp({ cors: { origins: ['https://app.example.com', 'http://localhost:5173'] } })
  })
  after(() => app?.stop())

  const table = [
    { origin: 'https://app.example.com', allowed: true },
    { origin: 'http://localhost:5173', allowed: true },
    { origin: 'https://evil.example.com', allowed: false },
  ]
  for (const { origin, allowed } of table) {
    test(`${origin} is ${allowed ? '' : 'not '}allowed`, async () => {
      const res = await app.http.inject(preflight(origin))
      assert.equal(res.headers['access-control-allow-origin'], allowed ? origin : undefined)
      const get = await app.http.inject({ method: 'GET', url: '/api/health', headers: { origin } })
      assert.equal(get.statusCode, 200)
      assert.equal(get.headers['access-control-allow-origin'], allowed ? origin : undefined)
      assert.match(String(get.headers.vary), /origin/i)
    })
  }
})
