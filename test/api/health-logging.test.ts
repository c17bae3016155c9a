/**
 * Structured request logs: each request writes one line once answered (method, url, status, ms,
 * request id, who made it), every other line logged while serving it carries the same request
 * id, concurrent requests never share one, and credentials never reach the log.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'

let app: Plinth
const lines: Record<string, unknown>[] = []

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-logging-'))
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      // Each line must be one JSON object: that is what "structured" means here.
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  app = await createPlinth({ config: { env: {}, cwd: dir, overrides: { dir } }, logger: createLogger({ logLevel: 'info' }, sink) })
  app.http.get('/api/test/chatty', async (request) => {
    request.log.info({ step: 1 }, 'handler step one')
    await new Promise((r) => setImmediate(r)) // an asynchronous step between the two lines
    request.log.warn({ step: 2 }, 'handler step two')
    return { ok: true }
  })
  app.http.get('/api/test/broken', async () => {
    throw new Error('the disk is on fire')
  })
})
after(() => app?.stop())

/** The lines of one request, by the id it answered with. */
function linesOf(res: { headers: Record<string, unknown> }): Record<string, unknown>[] {
  const id = String(res.headers['x-request-id'])
  return lines.filter((l) => l.reqId === id)
}

describe('request logs', () => {
  test('a request writes one line, after the lines its handler logged, with its fields', async () => {
    const res = await app.http.inject({ url: '/api/test/chatty?page=2' })
    assert.equal(res.statusCode, 200)
    const mine = linesOf(res)
    assert.deepEqual(mine.map((l) => l.msg), ['handler step one', 'handler step two', 'request'])
    const line = mine.at(-1)!
    assert.deepEqual(Object.keys(line).sort(), ['level', 'method', 'ms', 'msg', 'pid', 'reqId', 'status', 'time', 'url'])
    assert.equal(line.level, 30)
    assert.equal(line.method, 'GET')
    assert.equal(line.url, '/api/test/chatty?page=2')
    assert.equal(line.status, 200)
    assert.equal(typeof line.ms, 'number')
    assert.ok((line.ms as number) >= 0)
    assert.equal(typeof line.time, 'number')
  })

  test('an authenticated request names its auth record; its token is never logged', async () => {
    const id = await createSuperuser(app.records, 'root@example.com', 'root-password-1')
    const login = await app.http.inject({
      method: 'POST',
      url: '/api/collections/_superusers/auth-with-password',
      payload: { identity: 'root@example.com', password: 'root-password-1' },
    })
    assert.equal(login.statusCode, 200, login.body)
    const token = login.json<{ token: string }>().token
    const res = await app.http.inject({ url: '/api/health', headers: { authorization: token } })
    assert.equal(res.statusCode, 200)
    const mine = linesOf(res)
    assert.equal(mine.length, 1)
    assert.equal(mine[0]!.auth, '_superusers')
    assert.equal(mine[0]!.authId, id)
    const all = JSON.stringify(lines)
    assert.ok(!all.includes(token), 'the token is not in the log')
    assert.ok(!all.includes('root-password-1'), 'the password is not in the log')
    assert.equal(linesOf(login).at(-1)!.auth, undefined, 'the sign-in itself was made by a guest')
  })

  test('a client error is the one line, with its error code', async () => {
    const res = await app.http.inject({ url: '/api/collections/nothing-here/records' })
    assert.equal(res.statusCode, 404)
    const mine = linesOf(res)
    assert.equal(mine.length, 1, JSON.stringify(mine))
    assert.equal(mine[0]!.status, 404)
    assert.equal(mine[0]!.code, 'not_found')
  })

  test('a 5xx also logs its error, under the same request id', async () => {
    const res = await app.http.inject({ url: '/api/test/broken', headers: { 'x-request-id': 'broken-1' } })
    assert.equal(res.statusCode, 500)
    const mine = lines.filter((l) => l.reqId === 'broken-1')
    assert.deepEqual(mine.map((l) => [l.level, l.msg]), [[50, 'request failed'], [30, 'request']])
    assert.match(String((mine[0]!.err as { message?: string }).message), /the disk is on fire/)
    assert.equal(mine[1]!.status, 500)
    assert.equal(mine[1]!.code, 'internal')
  })

  test('concurrent requests keep their own ids', async () => {
    const before = lines.length
    const responses = await Promise.all(Array.from({ length: 5 }, () => app.http.inject('/api/test/chatty')))
    const ids = responses.map((r) => String(r.headers['x-request-id']))
    assert.equal(new Set(ids).size, 5)
    const fresh = lines.slice(before)
    for (const id of ids) {
      assert.deepEqual(
        fresh.filter((l) => l.reqId === id).map((l) => l.msg),
        ['handler step one', 'handler step two', 'request'],
      )
    }
    assert.equal(fresh.filter((l) => l.reqId === undefined).length, 0)
  })
})
