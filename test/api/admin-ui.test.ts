/** The console's static files at /_/: content types, caching, the single-page fallback, and a missing build. */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { gunzipSync, gzipSync } from 'node:zlib'
import Fastify, { type FastifyInstance } from 'fastify'
import { adminUiRoutes } from '../../src/api/admin-ui.ts'
import { startApp } from '../helpers/app.ts'

describe('admin console files (/_/)', () => {
  let dir: string
  let http: FastifyInstance
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-admin-ui-'))
    mkdirSync(path.join(dir, 'assets'))
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="./assets/main-ABC123.js"></script>')
    writeFileSync(path.join(dir, 'assets', 'main-ABC123.js'), 'console.log(1)')
    writeFileSync(path.join(dir, 'assets', 'main-DEF456.css'), 'body{}')
    writeFileSync(path.join(dir, 'favicon.svg'), '<svg/>')
    writeFileSync(path.join(dir, 'secret.txt'), 'not served')
    http = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
    await http.register(adminUiRoutes, { folder: dir })
  })
  after(async () => {
    await http.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const scenarios: { name: string; url: string; status: number; type?: RegExp; cache?: RegExp; body?: RegExp; location?: string }[] = [
    { name: 'index', url: '/_/', status: 200, type: /^text\/html/, cache: /^no-cache$/, body: /main-ABC123\.js/ },
    { name: 'bare path redirects', url: '/_', status: 301, location: '/_/' },
    { name: 'hashed script: immutable', url: '/_/assets/main-ABC123.js', status: 200, type: /^text\/javascript/, cache: /immutable/ },
    { name: 'hashed stylesheet', url: '/_/assets/main-DEF456.css', status: 200, type: /^text\/css/, cache: /max-age=31536000/ },
    { name: 'favicon', url: '/_/favicon.svg', status: 200, type: /^image\/svg\+xml/ },
    { name: 'missing asset: 404, not the index', url: '/_/assets/main-NOPE.js', status: 404 },
    { name: 'traversal out of assets', url: '/_/assets/..%2Findex.html', status: 404 },
    { name: 'single-page fallback', url: '/_/collections/posts', status: 200, type: /^text\/html/, cache: /^no-cache$/, body: /main-ABC123\.js/ },
    { name: 'other files in the folder are not served', url: '/_/secret.txt', status: 200, body: /^<!doctype html>/ },
  ]
  for (const s of scenarios) {
    it(s.name, async () => {
      const res = await http.inject({ method: 'GET', url: s.url })
      assert.equal(res.statusCode, s.status, res.body)
      if (s.type) assert.match(String(res.headers['content-type']), s.type)
      if (s.cache) assert.match(String(res.headers['cache-control']), s.cache)
      if (s.body) assert.match(res.body, s.body)
      if (s.location) assert.equal(res.headers.location, s.location)
    })
  }

  it('gzip copies go to clients that accept gzip, the plain file to others', async () => {
    writeFileSync(path.join(dir, 'assets', 'main-ABC123.js.gz'), gzipSync('console.log(1)'))
    const zipped = await http.inject({ method: 'GET', url: '/_/assets/main-ABC123.js', headers: { 'accept-encoding': 'gzip, br' } })
    assert.equal(zipped.headers['content-encoding'], 'gzip')
    assert.match(String(zipped.headers.vary), /accept-encoding/i)
    assert.equal(gunzipSync(zipped.rawPayload).toString(), 'console.log(1)')
    const plain = await http.inject({ method: 'GET', url: '/_/assets/main-ABC123.js' })
    assert.equal(plain.headers['content-encoding'], undefined)
    assert.equal(plain.body, 'console.log(1)')
  })

  it('index carries its content security policy (no inline scripts, API on this origin)', async () => {
    const res = await http.inject({ method: 'GET', url: '/_/' })
    const csp = String(res.headers['content-security-policy'])
    assert.match(csp, /script-src 'self'/)
    assert.match(csp, /connect-src 'self'/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
  })

  it('without a build: 503 saying how to make one', async () => {
    const empty = Fastify()
    await empty.register(adminUiRoutes, { folder: path.join(dir, 'nothing-here') })
    const res = await empty.inject({ method: 'GET', url: '/_/' })
    assert.equal(res.statusCode, 503)
    assert.match(res.body, /npm run build/)
    await empty.close()
  })
})

describe('admin console behind the admin allow-list', () => {
  it('refuses /_/ and its assets to addresses off the list, as it does the superuser API', async () => {
    const t = await startApp('sqlite', { adminAllow: ['127.0.0.1'], trustProxy: '127.0.0.1' })
    try {
      const outside = { 'x-forwarded-for': '203.0.113.77' }
      for (const url of ['/_/', '/_', '/_/collections', '/_/assets/main-X.js']) {
        assert.equal((await t.call('GET', url, { headers: outside })).statusCode, 403, url)
        assert.notEqual((await t.call('GET', url)).statusCode, 403, `${url} from the list`)
      }
    } finally {
      await t.close()
    }
  })
})

describe('what the System page reads from /api/health', () => {
  it('superusers get the SQL instances with role, state and lag; guests get PocketBase\'s bare answer', async () => {
    const t = await startApp('sqlite')
    try {
      const su = (await t.call('GET', '/api/health', { token: t.su })).json<{ data: { sql: unknown } }>()
      assert.deepEqual(su.data.sql, [{ engine: 'sqlite', role: 'primary', up: true, lagMs: 0 }])
      assert.deepEqual((await t.call('GET', '/api/health')).json(), { code: 200, message: 'API is healthy.', data: {} })
    } finally {
      await t.close()
    }
  })
})
