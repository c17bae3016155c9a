/**
 * Realtime on one listening node, seen from outside: a stream's request line and request metrics
 * (once, when the stream ends, whoever ends it), the realtime metrics, the idle timeout and the
 * queue bound taken from the config, and commits that publish nothing while nobody could hear
 * them (in-process bus) but always publish on Redis.
 *
 * "Exactly once" is shown with a sentinel: a request answered after the stream's line has its own
 * line after it, so a second line of the stream, had it come, would be there by then.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { RECORDS_TOPIC } from '../../src/realtime/realtime.ts'
import { createTestDb, type TestDb } from '../helpers/engines.ts'
import { REDIS_TEST_URL, redisSkip, testPrefix } from '../helpers/redis.ts'
import { NO_RATE_LIMITS } from '../helpers/app.ts'

type Line = Record<string, unknown>

/** Polls `check` until it holds; the bound only turns a lost event into a readable failure. */
async function waitFor(what: string, check: () => boolean | Promise<boolean>, boundMs = 30_000): Promise<void> {
  const end = Date.now() + boundMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not seen within ${boundMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

interface Node {
  app: Plinth
  url: string
  lines: Line[]
  token: string
  close(): Promise<void>
}

async function startNode(env: Record<string, string> = {}): Promise<Node> {
  const testDb: TestDb = await createTestDb('sqlite')
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-rt-node-'))
  const lines: Line[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Line)
      done()
    },
  })
  const app = await createPlinth({
    config: { cwd: dir, env, overrides: { db: testDb.url, dir, http: '127.0.0.1:0', logLevel: 'info', logFormat: 'json', rateLimits: NO_RATE_LIMITS } },
    logger: createLogger({ logLevel: 'info', logFormat: 'json' }, sink),
  })
  const url = await app.start()
  await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  const auth = await fetch(`${url}/api/collections/_superusers/auth-with-password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identity: 'root@example.com', password: 'root-password-1' }),
  })
  const { token } = (await auth.json()) as { token: string }
  const res = await fetch(`${url}/api/collections`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: token },
    body: JSON.stringify({ name: 'rt_items', type: 'base', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'title', type: 'text' }] }),
  })
  assert.equal(res.status, 200, await res.text())
  return {
    app,
    url,
    lines,
    token,
    async close() {
      await app.stop()
      await testDb.drop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Opens a stream and reads up to its PB_CONNECT; `stop()` aborts it from the client side. */
async function openStream(url: string): Promise<{ clientId: string; reqId: string; reader: ReadableStreamDefaultReader<Uint8Array>; stop(): void }> {
  const ac = new AbortController()
  const res = await fetch(`${url}/api/realtime`, { signal: ac.signal })
  assert.equal(res.status, 200)
  const reader = res.body!.getReader()
  let text = ''
  while (!text.includes('\n\n')) {
    const { value, done } = await reader.read()
    assert.ok(!done, 'the stream ended before PB_CONNECT')
    text += new TextDecoder().decode(value)
  }
  const clientId = /^id:(\w+)/.exec(text)![1]!
  return { clientId, reqId: res.headers.get('x-request-id')!, reader, stop: () => ac.abort() }
}

async function metric(app: Plinth, name: string, labels = ''): Promise<number> {
  const text = await app.metrics.registry.metrics()
  const m = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ''} (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : 0
}

const streamLines = (n: Node, reqId: string) => n.lines.filter((l) => l.msg === 'request' && l.reqId === reqId)

/** A request answered after everything before it was logged: its line is the sentinel. */
async function sentinel(n: Node): Promise<void> {
  const res = await fetch(`${n.url}/api/health`)
  const reqId = res.headers.get('x-request-id')!
  await res.text()
  await waitFor('the sentinel request line', () => streamLines(n, reqId).length === 1)
}

const STREAM_ROUTE = 'method="GET",route="/api/realtime",status="200"'

describe('realtime on a node: request line, metrics, queue bound', () => {
  let n: Node
  before(async () => {
    n = await startNode({ PLINTH_REALTIME_MAX_QUEUE_BYTES: '1024' })
  })
  after(async () => n?.close())

  test('a stream the client leaves: one request line with its duration, counted once in the request metrics', async () => {
    const before = await metric(n.app, 'plinth_http_requests_total', STREAM_ROUTE)
    const stream = await openStream(n.url)
    assert.equal(await metric(n.app, 'plinth_realtime_clients'), 1)
    assert.ok((await metric(n.app, 'plinth_realtime_events_sent_total')) >= 1, 'PB_CONNECT counted')
    assert.deepEqual(streamLines(n, stream.reqId), [], 'no line while the stream is open')
    stream.stop()
    await waitFor('the stream forgotten', () => n.app.realtime.size === 0)
    await waitFor('the stream line', () => streamLines(n, stream.reqId).length > 0)
    await sentinel(n)
    const lines = streamLines(n, stream.reqId)
    assert.equal(lines.length, 1, JSON.stringify(lines))
    assert.equal(lines[0]!.url, '/api/realtime')
    assert.equal(lines[0]!.status, 200)
    assert.equal(typeof lines[0]!.ms, 'number')
    assert.equal(await metric(n.app, 'plinth_http_requests_total', STREAM_ROUTE), before + 1)
    assert.equal(await metric(n.app, 'plinth_realtime_clients'), 0)
  })

  test('a client that stops reading is cut at the configured queue bound, and counted', async () => {
    const dropped = await metric(n.app, 'plinth_realtime_clients_dropped_total')
    const stream = await openStream(n.url)
    const sub = await fetch(`${n.url}/api/realtime`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: stream.clientId, subscriptions: ['flood'] }),
    })
    assert.equal(sub.status, 204)
    // The client reads nothing more; the kernel's buffers take some first, the loop's bound only stops a broken test.
    const chunk = 'x'.repeat(16 * 1024)
    for (let i = 0; i < 20_000 && n.app.realtime.client(stream.clientId); i++) {
      await n.app.realtime.publish('flood', chunk)
      await new Promise((r) => setImmediate(r))
    }
    assert.equal(n.app.realtime.client(stream.clientId), undefined, 'the client was cut')
    assert.equal(await metric(n.app, 'plinth_realtime_clients_dropped_total'), dropped + 1)
    stream.stop()
  })
})

describe('realtime on a node: the idle timeout', () => {
  let n: Node
  before(async () => {
    n = await startNode({ PLINTH_REALTIME_IDLE_TIMEOUT: '1000' })
  })
  after(async () => n?.close())

  test('a stream the server ends (idle timeout from PLINTH_REALTIME_IDLE_TIMEOUT): one request line', async () => {
    const stream = await openStream(n.url)
    // Nothing is sent to it: the node ends it after the configured second (the sweep's bound only fails the test).
    for (;;) {
      const { done } = await stream.reader.read()
      if (done) break
    }
    await waitFor('the stream line', () => streamLines(n, stream.reqId).length > 0)
    await sentinel(n)
    assert.equal(streamLines(n, stream.reqId).length, 1, JSON.stringify(streamLines(n, stream.reqId)))
  })
})

const redisSkipReason = await redisSkip()

for (const bus of ['memory', 'redis'] as const) {
  describe(`realtime on a node: what a commit publishes (${bus} bus)`, { skip: bus === 'redis' && redisSkipReason }, () => {
    let n: Node
    before(async () => {
      n = await startNode(bus === 'redis' ? { PLINTH_BUS: `${REDIS_TEST_URL}?prefix=${testPrefix()}` } : {})
    })
    after(async () => n?.close())

    const create = async (title: string) => {
      const res = await fetch(`${n.url}/api/collections/rt_items/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title }) })
      assert.equal(res.status, 200)
      return ((await res.json()) as { id: string }).id
    }

    test(bus === 'memory' ? 'nothing while no client has a subscription or an auth; published once one has' : 'always, another node may have subscribers', async () => {
      const seen: string[] = []
      await n.app.bus.subscribe(RECORDS_TOPIC, (m) => void seen.push(m))
      const first = await create('nobody listens here')
      const stream = await openStream(n.url)
      const sub = await fetch(`${n.url}/api/realtime`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: stream.clientId, subscriptions: ['rt_items/*'] }),
      })
      assert.equal(sub.status, 204)
      const second = await create('a subscriber now')
      // Messages arrive in publish order: once the second is here, the first would be too.
      await waitFor('the second commit on the bus', () => seen.some((m) => m.includes(second)))
      assert.equal(seen.some((m) => m.includes(first)), bus === 'redis')
      stream.stop()
    })
  })
}
