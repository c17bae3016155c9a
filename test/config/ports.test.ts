/**
 * The shared-state ports in the configuration: `redis` puts cache, counters and bus on Redis at
 * once, `cache` / `counters` / `bus` set each alone, a wrong URL is one line naming its key; and
 * the port list agrees with the configuration it reads.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig, maskSecrets, type LoadOptions } from '../../src/config/load.ts'
import { ConfigSchema, envKeys } from '../../src/config/schema.ts'
import { createLogger } from '../../src/log.ts'
import { Metrics } from '../../src/metrics.ts'
import { openPorts, portList, type AnyDescriptor } from '../../src/ports.ts'

function load(opts: LoadOptions = {}) {
  return loadConfig({ env: {}, cwd: mkdtempSync(path.join(tmpdir(), 'plinth-ports-')), ...opts })
}

describe('config: cache, counters, bus and redis', () => {
  test('nothing set: all three in this process, no Redis', () => {
    const c = load()
    assert.equal(c.redis, '')
    assert.deepEqual([c.cache, c.counters, c.bus], ['memory://', 'memory://', 'memory://'])
  })

  test('PLINTH_REDIS moves all three onto Redis', () => {
    const url = 'redis://10.0.0.5:6379/2?prefix=shop:'
    const c = load({ env: { PLINTH_REDIS: url } })
    assert.deepEqual([c.redis, c.cache, c.counters, c.bus], [url, url, url, url])
  })

  test('a port set on its own wins over redis, whichever layer sets either', () => {
    const c = load({ env: { PLINTH_REDIS: 'redis://r1:6379/0', PLINTH_CACHE: 'memory://?maxBytes=1048576' } })
    assert.equal(c.cache, 'memory://?maxBytes=1048576')
    assert.equal(c.counters, 'redis://r1:6379/0')
    const fromFile = load({
      cwd: tempWith({ 'plinth.config.json': JSON.stringify({ bus: 'memory://' }) }),
      env: { PLINTH_REDIS: 'redis://r1:6379/0' },
    })
    assert.equal(fromFile.bus, 'memory://', 'the file sets bus; redis from the environment does not override it')
    assert.equal(fromFile.cache, 'redis://r1:6379/0')
    const one = load({ env: { PLINTH_COUNTERS: 'redis://r2:6380/1' } })
    assert.deepEqual([one.redis, one.cache, one.counters, one.bus], ['', 'memory://', 'redis://r2:6380/1', 'memory://'])
  })

  test('memory parameters: maxBytes for the cache, maxKeys for counters', () => {
    const c = load({ env: { PLINTH_CACHE: 'memory://?maxBytes=4096', PLINTH_COUNTERS: 'memory://?maxKeys=10' } })
    assert.equal(c.cache, 'memory://?maxBytes=4096')
    assert.equal(c.counters, 'memory://?maxKeys=10')
  })

  test('plinth config masks Redis passwords', () => {
    const shown = JSON.stringify(maskSecrets(load({ env: { PLINTH_REDIS: 'redis://app:hunter2@r1:6379/0', PLINTH_BUS: 'rediss://:hunter3@r2' } })))
    assert.doesNotMatch(shown, /hunter/)
    assert.match(shown, /"cache":"redis:\/\/app:\*\*\*\*@r1:6379\/0"/)
    assert.match(shown, /"bus":"rediss:\/\/:\*\*\*\*@r2"/)
  })

  const mistakes: { name: string; env: Record<string, string>; names: RegExp }[] = [
    { name: 'an unknown cache scheme', env: { PLINTH_CACHE: 'memcached://127.0.0.1:11211' }, names: /^config: cache: unsupported scheme "memcached" \(expected memory:\/\/ or redis:\/\/\)$/ },
    { name: 'a bus URL that does not parse', env: { PLINTH_BUS: 'redis://h:99999' }, names: /^config: bus: malformed URL/ },
    { name: 'a counters URL with a database that is not a number', env: { PLINTH_COUNTERS: 'redis://:secret@h/app' }, names: /^config: counters: the path must be a database number/ },
    { name: 'an unknown Redis option', env: { PLINTH_REDIS: 'redis://h/0?db=1' }, names: /^config: redis: unknown option \?db=/ },
    { name: 'redis that is not a Redis URL', env: { PLINTH_REDIS: 'http://h:6379' }, names: /^config: PLINTH_REDIS \(redis\): expected "" or a redis:\/\/ URL, got "http:\/\/h:6379"/ },
    { name: 'a memory parameter of another port', env: { PLINTH_CACHE: 'memory://?maxKeys=5' }, names: /^config: cache: unknown parameter "maxKeys" \(expected maxBytes\)$/ },
    { name: 'a memory bound that is not a number', env: { PLINTH_CACHE: 'memory://?maxBytes=64MB' }, names: /^config: cache: maxBytes must be a whole number above 0, got "64MB"$/ },
    { name: 'a parameter on the bus, which takes none', env: { PLINTH_BUS: 'memory://?size=1' }, names: /^config: bus: unknown parameter "size" \(memory:\/\/ takes none\)$/ },
    { name: 'memory with a host', env: { PLINTH_COUNTERS: 'memory://somewhere' }, names: /^config: counters: memory:\/\/ takes no host or path/ },
  ]
  for (const m of mistakes) {
    test(`one line naming the key: ${m.name}`, () => {
      assert.throws(() => load({ env: m.env }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err))
        assert.match(err.message, m.names)
        assert.doesNotMatch(err.message, /\n|secret/)
        return true
      })
    })
  }
})

describe('config: the data folder is one fact', () => {
  test('dir and the SQLite file are absolute, against the directory given, not the process', () => {
    const cwd = tempWith({})
    const c = load({ cwd, overrides: { dir: 'data' } })
    assert.equal(c.dir, path.join(cwd, 'data'))
    assert.equal(c.db, `sqlite://${path.join(cwd, 'data', 'data.db')}`)
    const own = load({ cwd, env: { PLINTH_DB: 'sqlite://./elsewhere/app.db' } })
    assert.equal(own.db, `sqlite://${path.join(cwd, 'elsewhere', 'app.db')}`)
    assert.equal(load({ cwd, env: { PLINTH_DB: 'sqlite://:memory:' } }).db, 'sqlite://:memory:')
  })
})

describe('the port list', () => {
  test('each port names its config key and the environment variable that sets it', () => {
    assert.deepEqual(portList.map((p) => p.key), ['db', 'mail', 'cache', 'counters', 'bus', 'queue', 'files', 'sms', 'push'])
    for (const p of portList) {
      assert.ok(p.key in ConfigSchema.properties, p.key)
      assert.equal((envKeys as Record<string, string>)[p.env], p.key, p.env)
    }
    assert.equal(portList.find((p) => p.key === 'cache')?.defaultUrl, 'memory://')
  })

  test('every URL is checked before any port opens: a bad bus leaves no database behind', async () => {
    const cwd = tempWith({})
    const good = load({ cwd })
    const bad = { ...good, bus: 'kafka://broker:9092' }
    await assert.rejects(openPorts(bad, { log: createLogger({ logLevel: 'silent' }), metrics: new Metrics() }), /^ConfigError: config: bus: unsupported scheme "kafka"/)
    assert.ok(!existsSync(path.join(cwd, 'plinth_data')), 'the SQLite file was never created')
  })

  test('a port that fails to open closes the ones opened before it, in reverse order', async () => {
    const closed: string[] = []
    const fake = (key: 'db' | 'mail' | 'cache', fail = false): AnyDescriptor => ({
      key,
      env: `PLINTH_${key.toUpperCase()}`,
      defaultUrl: 'memory://',
      parse: () => ({ engine: 'memory' }),
      engines: { memory: async () => (fail ? Promise.reject(new Error(`${key}: cannot open`)) : key) },
      close: async () => void closed.push(key),
    })
    const list = [fake('db'), fake('mail'), fake('cache', true)]
    await assert.rejects(openPorts(load(), { log: createLogger({ logLevel: 'silent' }), metrics: new Metrics() }, list), /cache: cannot open/)
    assert.deepEqual(closed, ['mail', 'db'])
  })

  test('opens the embedded engines by default and closes them all', async () => {
    const opened = await openPorts(load(), { log: createLogger({ logLevel: 'silent' }), metrics: new Metrics() })
    const { db, mail, cache, counters, bus } = opened.ports
    assert.deepEqual([db.primary.name, mail.name, cache.name, counters.name, bus.name], ['sqlite', 'log', 'memory', 'memory', 'memory'])
    assert.ok(opened.prepared.db?.length, 'the db port migrated a fresh database')
    await cache.set('k', 'v', 60_000)
    assert.equal((await cache.get('k'))?.toString(), 'v')
    await opened.close()
    await assert.rejects(db.primary.ping(), 'the database is closed')
    assert.equal(await cache.get('k'), undefined, 'the cache is closed (emptied)')
  })
})

function tempWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-ports-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}
