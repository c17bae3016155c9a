import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { maskUrl } from '../../src/config/urls.ts'
import { parseRedisUrl } from '../../src/config/urls.ts'
import { openRedis, reconnectDelay } from '../../src/redis/client.ts'
import { adminRedis, captureLog, partitionedRedis, REDIS_TEST_URL, redisSkip, unusedPort } from '../helpers/redis.ts'

describe('redis URLs', () => {
  test('a full URL: user, password (percent-decoded), host, port, database, namespace', () => {
    assert.deepEqual(parseRedisUrl('redis://app:p%40ss@10.0.0.5:6380/3?prefix=shop:'), {
      host: '10.0.0.5', port: 6380, db: 3, username: 'app', password: 'p@ss', tls: false, prefix: 'shop:',
    })
  })

  test('defaults: port 6379, database 0, namespace plinth:; rediss means TLS; IPv6 hosts unbracketed', () => {
    assert.deepEqual(parseRedisUrl('rediss://:pw@cache.example'), {
      host: 'cache.example', port: 6379, db: 0, username: undefined, password: 'pw', tls: true, prefix: 'plinth:',
    })
    assert.equal(parseRedisUrl('redis://[::1]:6379/').host, '::1')
  })

  for (const [url, why] of [
    ['http://h:6379', /must start with redis/],
    ['redis://:secret@h/abc', /database number/],
    ['redis://:secret@h/0?db=1', /unknown option \?db=/],
    ['redis://:secret@h:99999', /malformed/],
  ] as const) {
    test(`refused with a message that names it, password masked: ${maskUrl(url)}`, () => {
      assert.throws(() => parseRedisUrl(url), (err: Error) => why.test(err.message) && !err.message.includes('secret'))
    })
  }

  test('masking hides only the password', () => {
    assert.equal(maskUrl('redis://user:pw@h:1/0'), 'redis://user:****@h:1/0')
    assert.equal(maskUrl('redis://:pw@h'), 'redis://:****@h')
    assert.equal(maskUrl('redis://h:6379/0'), 'redis://h:6379/0')
  })

  test('reconnection backoff doubles from 50 ms and is capped', () => {
    assert.ok(reconnectDelay(1) >= 50 && reconnectDelay(1) < 100)
    assert.ok(reconnectDelay(3) >= 200 && reconnectDelay(3) < 300)
    for (const times of [10, 100, 10_000]) assert.ok(reconnectDelay(times, 2000) <= 2100)
  })
})

const skip = await redisSkip()

describe('redis connection', { skip }, () => {
  test('a lost connection is logged once, comes back by itself, and says so', async () => {
    const log = captureLog()
    const conn = await openRedis(REDIS_TEST_URL, { log, name: 'client-test' })
    const admin = await adminRedis()
    try {
      assert.equal(conn.ready, true)
      const id = await conn.client.client('ID')
      const back = log.waitFor('redis: reconnected')
      await admin.client('KILL', 'ID', String(id))
      await back
      assert.equal(conn.ready, true)
      assert.equal(await conn.client.ping(), 'PONG')
      assert.deepEqual(log.lines.map((l) => l.msg), ['redis: connection lost, reconnecting', 'redis: reconnected'])
    } finally {
      await admin.quit()
      await conn.close()
    }
    assert.equal(conn.client.status, 'end')
  })

  test('nothing listening: opening still resolves (a node can start), commands fail at once, close stops retrying', async () => {
    const log = captureLog()
    const conn = await openRedis(`redis://127.0.0.1:${await unusedPort()}`, { log, name: 'client-test-down' })
    assert.equal(conn.ready, false)
    await assert.rejects(conn.client.get('k'))
    await conn.close()
    assert.equal(conn.ready, false)
    assert.deepEqual(log.lines.map((l) => l.msg), ['redis: cannot connect, retrying'])
  })
})

describe('redis connection: a partitioned server (no reply, no close)', () => {
  test('a command fails after commandTimeoutMs instead of hanging, and the silent socket is dropped and replaced', async () => {
    const server = await partitionedRedis()
    const log = captureLog()
    const conn = await openRedis(server.url, { log, name: 'partitioned', commandTimeoutMs: 200, socketTimeoutMs: 400 })
    try {
      assert.equal(await conn.client.ping(), 'PONG')
      server.goSilent()
      const lost = log.waitFor('redis: connection lost, reconnecting')
      const back = log.waitFor('redis: reconnected')
      await assert.rejects(conn.client.get('k'), /timed out/)
      await lost
      await back
      assert.equal(await conn.client.ping(), 'PONG')
    } finally {
      await conn.close()
      await server.close()
    }
  })
})

describe('ioredis stays at the edge', () => {
  test('only src/redis/client.ts loads ioredis, and only lazily (await import); elsewhere type imports alone', async () => {
    const { readdirSync, readFileSync } = await import('node:fs')
    const path = await import('node:path')
    const files = (readdirSync('src', { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => path.join('src', f))
    const loaders: string[] = []
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/^import\s+(type\s+)?[^'"]*from\s+['"]ioredis['"]/gm)) assert.ok(m[1], `${file}: a value import of ioredis`)
      if (text.includes("await import('ioredis')")) loaders.push(file)
    }
    assert.deepEqual(loaders, [path.join('src', 'redis', 'client.ts')])
  })
})
