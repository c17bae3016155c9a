/**
 * Structured request logs: every line logged while serving a request (Fastify's own and the
 * handler's) carries that request's id, and concurrent requests never share one.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
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
})
after(() => app?.stop())

describe('request logs', () => {
  test('every line of one request carries the same request id', async () => {
    const res = await app.http.inject({ url: '/api/test/chatty', headers: { authorization: 'Bearer secret-token-xyz' } })
    assert.equal(res.statusCode, 200)
    const id = String(res.headers['x-request-id'])
    const mine = lines.filter((l) => l.reqId === id)
    const msgs = mine.map((l) => l.msg)
    assert.deepEqual(msgs, ['incoming request', 'handler step one', 'handler step two', 'request completed'])
    for (const l of mine) {
      assert.equal(typeof l.time, 'number')
      assert.equal(typeof l.level, 'number')
    }
    assert.ok(
      lines.filter((l) => l.msg === 'handler step one').every((l) => typeof l.reqId === 'string'),
      'no handler line without a request id',
    )
    assert.doesNotMatch(JSON.stringify(lines), /secret-token-xyz/, 'credentials are never logged')
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
        ['incoming request', 'handler step one', 'handler step two', 'request completed'],
      )
    }
    assert.equal(fresh.filter((l) => l.reqId === undefined).length, 0)
  })
})
