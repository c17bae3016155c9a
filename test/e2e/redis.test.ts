/**
 * The shared-state ports on a real Redis, through the whole app: `PLINTH_REDIS` really puts
 * counters, cache and bus there; with Redis gone, sign-in fails closed (503, the right password
 * included, so no attempt passes uncounted), the cache acts as empty, the connection says so in
 * the log, and everything recovers when Redis is back. Start-up with Redis unreachable is allowed.
 *
 * The outage test runs its own redis-server on a free port (the shared test server is never
 * stopped); it is skipped, loudly, when there is no redis-server binary.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { after, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { adminRedis, deleteKeys, REDIS_TEST_URL, redisSkip, testPrefix, unusedPort } from '../helpers/redis.ts'

const redisSkipReason = await redisSkip()
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0
if (!hasRedisServer) process.stderr.write('\n!!! SKIPPING the Redis outage test: no redis-server binary on PATH\n\n')

interface Started {
  app: Plinth
  /** Every log line, parsed. */
  lines: Record<string, unknown>[]
  /** Resolves once a line with this message (and these fields) has been logged, now or later. */
  logged(msg: string, fields?: Record<string, unknown>): Promise<void>
  close(): Promise<void>
}

/** An app on a fresh SQLite folder with `env` (PLINTH_* settings), an auth collection and one member. */
async function start(env: Record<string, string>): Promise<Started> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-redis-app-'))
  const lines: Record<string, unknown>[] = []
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) {
        const line = JSON.parse(text) as Record<string, unknown>
        lines.push(line)
        for (const w of waiters.filter((w) => w.match(line))) w.resolve()
      }
      done()
    },
  })
  const app = await createPlinth({ config: { cwd: dir, env, overrides: { dir } }, logger: createLogger({ logLevel: 'info' }, sink) })
  await app.collections.create({ name: 'members', type: 'auth', createRule: '' })
  const created = await app.http.inject({
    method: 'POST', url: '/api/collections/members/records',
    payload: { email: 'm@example.com', password: 'member-pass-1', passwordConfirm: 'member-pass-1' },
  })
  assert.equal(created.statusCode, 200, created.body)
  return {
    app,
    lines,
    logged(msg, fields = {}) {
      const match = (l: Record<string, unknown>) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v)
      return lines.some(match) ? Promise.resolve() : new Promise((resolve) => waiters.push({ match, resolve }))
    },
    async close() {
      await app.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function signIn(app: Plinth, password: string, collection = 'members', identity = 'm@example.com') {
  return app.http.inject({ method: 'POST', url: `/api/collections/${collection}/auth-with-password`, payload: { identity, password } })
}

describe('PLINTH_REDIS: counters, cache and bus on Redis', { skip: redisSkipReason }, () => {
  test('a failed sign-in is a counter in Redis; cache values and bus messages go through Redis too', async () => {
    const prefix = testPrefix()
    const url = `${REDIS_TEST_URL}?prefix=${encodeURIComponent(prefix)}`
    const admin = await adminRedis()
    const s = await start({ PLINTH_REDIS: url })
    try {
      assert.deepEqual([s.app.cache.name, s.app.counters.name, s.app.bus.name], ['redis', 'redis', 'redis'])
      assert.equal((await signIn(s.app, 'wrong-password')).statusCode, 400)
      const members = s.app.collections.getOrThrow('members')
      assert.equal(await admin.get(`${prefix}c:auth:fail:id:${members.id}:m@example.com`), '1', 'the failure was counted in Redis')

      await s.app.cache.set('greeting', 'hello', 60_000)
      assert.equal(await admin.get(`${prefix}cache:greeting`), 'hello')

      let deliver!: (message: string) => void
      const received = new Promise<string>((resolve) => (deliver = resolve))
      await s.app.bus.subscribe('news', (message) => deliver(message))
      // Published by another client straight to the channel: only a bus on Redis can hear it.
      assert.equal(await admin.publish(`${prefix}bus:news`, 'from elsewhere'), 1, 'one subscriber: this app')
      assert.equal(await received, 'from elsewhere')
    } finally {
      await s.close()
      await deleteKeys(admin, prefix)
      await admin.quit()
    }
  })
})

/** A private redis-server on a free port, no persistence. */
async function privateRedis(port: number): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
    })
    if (up) break
    if (i > 200 || child.exitCode !== null) throw new Error(`redis-server did not start on ${port}`)
    await new Promise((r) => setTimeout(r, 25))
  }
  return {
    stop: () => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM')))),
  }
}

describe('Redis down', { skip: !hasRedisServer && 'no redis-server binary' }, () => {
  const cleanups: (() => Promise<void>)[] = []
  after(async () => {
    for (const c of cleanups.reverse()) await c()
  })

  test('sign-in answers 503 (the right password too), the cache acts as empty, the log and health say so; all recover', async () => {
    const port = await unusedPort()
    let server = await privateRedis(port)
    cleanups.push(() => server.stop())
    const s = await start({ PLINTH_REDIS: `redis://127.0.0.1:${port}/0` })
    cleanups.push(() => s.close())
    await createSuperuser(s.app.records, 'root@example.com', 'root-password-1')
    const su = (await signIn(s.app, 'root-password-1', '_superusers', 'root@example.com')).json<{ token: string }>().token
    const health = async () => (await s.app.http.inject({ url: '/api/health', headers: { authorization: su } })).json<{ data: { redis?: string } }>().data.redis

    assert.equal((await signIn(s.app, 'wrong-password')).statusCode, 400)
    assert.equal(await health(), 'ok')
    await s.app.cache.set('k', 'v', 60_000)
    assert.equal((await s.app.cache.get('k'))?.toString(), 'v')
    const heard: string[] = []
    let onHeard = () => {}
    await s.app.bus.subscribe('news', (m) => (heard.push(m), onHeard()))

    // The connection cache and counters share (the bus has a second one, for its subscriptions).
    const lost = s.logged('redis: connection lost, reconnecting', { connection: 'shared' })
    await server.stop()
    await lost
    for (const password of ['wrong-password', 'member-pass-1']) {
      const res = await signIn(s.app, password)
      assert.equal(res.statusCode, 503, `${password}: ${res.body}`)
      assert.equal(res.headers['x-plinth-error'], 'unavailable')
    }
    assert.equal(await s.app.cache.get('k'), undefined, 'no cache, no error')
    await s.app.cache.set('k2', 'v2', 60_000) // does not throw
    assert.equal(await health(), 'unreachable')
    assert.equal((await s.app.http.inject('/api/health')).statusCode, 200, 'the node itself stays healthy')
    await assert.rejects(s.app.bus.publish('news', 'lost'), { name: 'BusUnavailableError' })

    const back = s.logged('redis: reconnected', { connection: 'shared' })
    const resubscribed = s.logged('bus: resubscribed')
    server = await privateRedis(port)
    await back
    await resubscribed
    const delivered = new Promise<void>((resolve) => (onHeard = resolve))
    await s.app.bus.publish('news', 'after the outage')
    await delivered
    assert.deepEqual(heard, ['after the outage'], 'the bus came back by itself; nothing from the outage')
    assert.equal((await signIn(s.app, 'member-pass-1')).statusCode, 200)
    assert.equal(await health(), 'ok')
  })

  test('start-up with Redis unreachable: the app starts, warns, and counters answer 503', async () => {
    const port = await unusedPort()
    const s = await start({ PLINTH_COUNTERS: `redis://127.0.0.1:${port}/0` })
    cleanups.push(() => s.close())
    assert.ok(s.lines.some((l) => l.msg === 'redis: cannot connect, retrying' && l.level === 40), 'a warning names the outage')
    assert.equal((await signIn(s.app, 'member-pass-1')).statusCode, 503)
    assert.equal((await s.app.http.inject('/api/health')).statusCode, 200)
    assert.equal(s.app.cache.name, 'memory', 'only counters were moved')
  })
})
