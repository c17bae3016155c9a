/**
 * Configuration loading: defaults, file (JSON or YAML), PLINTH_* variables (and their _FILE forms),
 * flags; validated once, frozen, and every mistake stops start-up with one line naming the key.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { ConfigError, loadConfig, maskSecrets, type LoadOptions } from '../../src/config/load.ts'

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-config-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}

/** Loads with an empty environment in an empty folder unless told otherwise. */
function load(opts: LoadOptions = {}) {
  return loadConfig({ env: {}, cwd: opts.cwd ?? tempDir(), ...opts })
}

describe('config: defaults', () => {
  test('nothing set means the embedded defaults', () => {
    const cwd = tempDir()
    const c = load({ cwd })
    assert.equal(c.http, '127.0.0.1:8090')
    assert.equal(c.dir, path.join(cwd, 'plinth_data'))
    assert.equal(c.db, `sqlite://${path.join(cwd, 'plinth_data', 'data.db')}`, 'one absolute file, whatever the process directory')
    assert.deepEqual(c.metrics.allow, [], 'metrics are never public by default')
    assert.deepEqual(c.cors.origins, ['*'], 'every origin, as PocketBase')
    assert.equal(c.statementTimeout, 10_000)
    assert.equal(c.poolTimeout, 5_000)
    assert.equal(c.headersTimeout, 10_000)
  })

  test('limits and CORS origins come from PLINTH_* variables', () => {
    const c = load({
      env: { PLINTH_STATEMENT_TIMEOUT: '0', PLINTH_POOL_TIMEOUT: '250', PLINTH_POOL_SIZE: '3', PLINTH_REQUEST_TIMEOUT: '60000', PLINTH_KEEP_ALIVE_TIMEOUT: '5000', PLINTH_CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' },
    })
    assert.equal(c.statementTimeout, 0)
    assert.equal(c.poolTimeout, 250)
    assert.equal(c.poolSize, 3)
    assert.equal(c.requestTimeout, 60_000)
    assert.equal(c.keepAliveTimeout, 5_000)
    assert.deepEqual(c.cors.origins, ['https://a.example.com', 'http://localhost:5173'])
  })

  test('one key of a nested block keeps the others (layers merge deeply)', () => {
    const c = load({ env: { PLINTH_AUTH_THROTTLE_PER_IP: '7' }, overrides: { authThrottle: { windowSeconds: 60 } } as never })
    assert.deepEqual(c.authThrottle, { perIdentity: 5, perIp: 7, windowSeconds: 60 })
    assert.throws(() => load({ env: { PLINTH_AUTH_THROTTLE_PER_IDENTITY: 'five' } }), /PLINTH_AUTH_THROTTLE_PER_IDENTITY: expected a whole number/)
  })

  test('log format: pretty for a terminal, JSON otherwise, unless set', () => {
    assert.equal(load({ tty: true }).logFormat, 'pretty')
    assert.equal(load({ tty: false }).logFormat, 'json')
    assert.equal(load({ tty: true, env: { PLINTH_LOG_FORMAT: 'json' } }).logFormat, 'json')
    assert.equal(load({ tty: false, env: { PLINTH_LOG_FORMAT: 'pretty' } }).logFormat, 'pretty')
    assert.equal(load({ tty: false, cwd: tempDir({ 'plinth.config.yaml': 'logFormat: pretty\n' }) }).logFormat, 'pretty')
  })

  test('--dir moves the SQLite database with it', () => {
    const cwd = tempDir()
    const c = load({ cwd, overrides: { dir: 'elsewhere' } })
    assert.equal(c.dir, path.join(cwd, 'elsewhere'))
    assert.equal(c.db, `sqlite://${path.join(cwd, 'elsewhere', 'data.db')}`)
  })
})

describe('config: layers', () => {
  test('JSON file, then environment, then flags', () => {
    const cwd = tempDir({
      'plinth.config.json': JSON.stringify({ http: '127.0.0.1:1111', logLevel: 'warn', bodyLimit: 4096 }),
    })
    const fileOnly = load({ cwd })
    assert.equal(fileOnly.http, '127.0.0.1:1111')
    assert.equal(fileOnly.logLevel, 'warn')

    const withEnv = load({ cwd, env: { PLINTH_HTTP: '127.0.0.1:2222', PLINTH_BODY_LIMIT: '8192' } })
    assert.equal(withEnv.http, '127.0.0.1:2222')
    assert.equal(withEnv.bodyLimit, 8192)
    assert.equal(withEnv.logLevel, 'warn', 'keys the environment does not set keep the file value')

    const withFlags = load({ cwd, env: { PLINTH_HTTP: '127.0.0.1:2222' }, overrides: { http: '127.0.0.1:3333' } })
    assert.equal(withFlags.http, '127.0.0.1:3333')
  })

  test('YAML file, found by name in the working directory', () => {
    const cwd = tempDir({
      'plinth.config.yaml': 'http: 0.0.0.0:9999\nshutdownTimeout: 500\nmetrics:\n  allow:\n    - 10.0.0.0/8\n    - 127.0.0.1\n',
    })
    const c = load({ cwd })
    assert.equal(c.http, '0.0.0.0:9999')
    assert.equal(c.shutdownTimeout, 500)
    assert.deepEqual(c.metrics.allow, ['10.0.0.0/8', '127.0.0.1'])
  })

  test('--config names a file anywhere; a missing one is an error', () => {
    const elsewhere = tempDir({ 'custom.yml': 'logLevel: debug\n' })
    assert.equal(load({ file: path.join(elsewhere, 'custom.yml') }).logLevel, 'debug')
    assert.throws(() => load({ file: 'nope.json' }), /config: file nope\.json does not exist/)
  })

  test('PLINTH_METRICS_ALLOW is a comma list; PLINTH_TRUST_PROXY takes true/false or a list', () => {
    const c = load({ env: { PLINTH_METRICS_ALLOW: '127.0.0.1, 10.1.0.0/16', PLINTH_TRUST_PROXY: 'true' } })
    assert.deepEqual(c.metrics.allow, ['127.0.0.1', '10.1.0.0/16'])
    assert.equal(c.trustProxy, true)
    assert.equal(load({ env: { PLINTH_TRUST_PROXY: '10.0.0.1' } }).trustProxy, '10.0.0.1')
  })

  test('a _FILE variable reads the value from a file (trimmed)', () => {
    const cwd = tempDir({ 'db-url.txt': 'postgres://app:s3cret@db.internal:5432/app\n' })
    const c = load({ cwd, env: { PLINTH_DB_FILE: 'db-url.txt' } })
    assert.equal(c.db, 'postgres://app:s3cret@db.internal:5432/app')
  })

  test('tooling variables (tests, CI) are not settings and are ignored', () => {
    const c = load({ env: { PLINTH_REQUIRE_SERVICES: '1', PLINTH_TEST_PG: 'postgres://x@y/z' } })
    assert.equal(c.http, '127.0.0.1:8090')
  })
})

describe('config: validated once and frozen', () => {
  test('the result is frozen all the way down', () => {
    const c = load({ env: { PLINTH_METRICS_ALLOW: '127.0.0.1' } })
    assert.ok(Object.isFrozen(c))
    assert.ok(Object.isFrozen(c.metrics))
    assert.ok(Object.isFrozen(c.metrics.allow))
    assert.throws(() => {
      ;(c as { http: string }).http = '0.0.0.0:80'
    }, TypeError)
    assert.throws(() => (c.metrics.allow as string[]).push('0.0.0.0/0'), TypeError)
    assert.equal(c.http, '127.0.0.1:8090')
  })
})

/** Each bad setting, where it came from, and the key (or variable) its one-line message must name. */
const mistakes: { name: string; opts?: LoadOptions; files?: Record<string, string>; names: RegExp }[] = [
  { name: 'unknown key in a JSON file', files: { 'plinth.config.json': '{"telepathy":"psi://key@"}' }, names: /config: telepathy: unknown key \(in plinth\.config\.json\)/ },
  { name: 'unknown nested key in a YAML file', files: { 'plinth.config.yaml': 'metrics:\n  allow: []\n  public: true\n' }, names: /config: metrics\.public: unknown key/ },
  { name: 'misspelt nested key names the misspelling', files: { 'plinth.config.yaml': 'metrics:\n  alow: [127.0.0.1]\n' }, names: /config: metrics\.alow: unknown key/ },
  { name: 'unknown PLINTH_ variable (a port not built yet)', opts: { env: { PLINTH_TELEPATHY: 'psi://key@' } }, names: /unknown environment variable PLINTH_TELEPATHY/ },
  { name: 'replicas of SQLite', opts: { env: { PLINTH_DB_REPLICAS: 'postgres://a@b/c' } }, names: /config: dbReplicas\[0\]: SQLite has no replicas/ },
  { name: 'a replica of another engine', opts: { env: { PLINTH_DB: 'postgres://a@b/c', PLINTH_DB_REPLICAS: 'postgres://a@d/c, mysql://a@e/c' } }, names: /config: dbReplicas\[1\]: a mysql instance cannot replicate the postgres primary/ },
  { name: 'a DR URL that does not parse', opts: { env: { PLINTH_DB: 'postgres://a@b/c', PLINTH_DB_DR: 'ftp://x' } }, names: /config: dbDr: unsupported scheme/ },
  { name: 'wrong type in a file', files: { 'plinth.config.json': '{"bodyLimit":"32MB"}' }, names: /config: bodyLimit: expected integer, got "32MB"/ },
  { name: 'wrong type in the environment', opts: { env: { PLINTH_SHUTDOWN_TIMEOUT: 'soon' } }, names: /PLINTH_SHUTDOWN_TIMEOUT: expected a whole number/ },
  { name: 'value outside the allowed set', opts: { env: { PLINTH_LOG_LEVEL: 'loud' } }, names: /config: PLINTH_LOG_LEVEL \(logLevel\): expected .*"info".*got "loud"/ },
  { name: 'a log format that does not exist', opts: { env: { PLINTH_LOG_FORMAT: 'xml' } }, names: /config: PLINTH_LOG_FORMAT \(logFormat\): expected "json" or "pretty", got "xml" \(in environment\)/ },
  { name: 'listen address without a port', opts: { overrides: { http: 'localhost' } }, names: /config: http: expected HOST:PORT/ },
  { name: 'malformed database URL', opts: { env: { PLINTH_DB: 'postgres://[::1' } }, names: /config: db: malformed URL/ },
  { name: 'database URL without a database', opts: { env: { PLINTH_DB: 'mysql://root@127.0.0.1:3306' } }, names: /config: db: URL needs a database name/ },
  { name: 'database URL with an unknown scheme', opts: { env: { PLINTH_DB: 'mongodb://127.0.0.1/app' } }, names: /config: db: unsupported scheme "mongodb"/ },
  { name: 'unreadable _FILE', opts: { env: { PLINTH_DB_FILE: '/no/such/file' } }, names: /config: PLINTH_DB_FILE: cannot read file/ },
  { name: 'unparsable JSON file', files: { 'plinth.config.json': '{"http": ' }, names: /config: cannot parse plinth\.config\.json/ },
  { name: 'a port out of range', opts: { overrides: { http: '127.0.0.1:70000' } }, names: /config: http: port 70000 is out of range/ },
  { name: 'a metrics allow entry in a file that is not an IP', files: { 'plinth.config.yaml': 'metrics:\n  allow: [example.com]\n' }, names: /config: metrics\.allow: "example\.com" is not an IP or CIDR/ },
  { name: 'a CIDR prefix too long', opts: { env: { PLINTH_METRICS_ALLOW: '::1/129' } }, names: /config: PLINTH_METRICS_ALLOW: "::1\/129" is not an IP or CIDR/ },
  { name: 'a statement timeout that is not a number', opts: { env: { PLINTH_STATEMENT_TIMEOUT: '10s' } }, names: /config: PLINTH_STATEMENT_TIMEOUT: expected a whole number, got "10s"/ },
  { name: 'a pool of no connections', opts: { env: { PLINTH_POOL_SIZE: '0' } }, names: /config: PLINTH_POOL_SIZE \(poolSize\): expected integer to be greater or equal to 1, got 0/ },
  { name: 'headers allowed longer than the request', opts: { env: { PLINTH_HEADERS_TIMEOUT: '5000', PLINTH_REQUEST_TIMEOUT: '1000' } }, names: /config: headersTimeout: 5000 is more than requestTimeout 1000/ },
  { name: 'a CORS origin with a path', opts: { env: { PLINTH_CORS_ORIGINS: 'https://a.example.com/app' } }, names: /config: PLINTH_CORS_ORIGINS \(cors\.origins\.0\): expected \* or an origin/ },
  { name: 'a file that is not an object', files: { 'plinth.config.yaml': '- a\n- b\n' }, names: /config: plinth\.config\.yaml must hold an object/ },
]

describe('config: every mistake stops start-up with one line naming the key', () => {
  for (const m of mistakes) {
    test(m.name, () => {
      const cwd = tempDir(m.files)
      assert.throws(
        () => load({ cwd, ...m.opts }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`)
          assert.match(err.message, m.names)
          assert.doesNotMatch(err.message, /\n/, 'one line')
          return true
        },
      )
    })
  }

  test('a malformed URL message never shows the password', () => {
    assert.throws(() => load({ env: { PLINTH_DB: 'postgres://app:hunter2@[bad/app' } }), (err: Error) => {
      assert.doesNotMatch(err.message, /hunter2/)
      return true
    })
  })
})

describe('config: secrets masked for printing', () => {
  test('URL passwords and secret-looking query values are masked', () => {
    const c = load({ env: { PLINTH_DB: 'postgres://app:s3cret@db.internal:5432/app?sslmode=require&password=p2' } })
    const shown = JSON.stringify(maskSecrets(c))
    assert.doesNotMatch(shown, /s3cret|p2\b/)
    assert.match(shown, /postgres:\/\/app:\*\*\*\*@db\.internal:5432\/app\?sslmode=require&password=\*\*\*\*/)
    assert.equal(c.db, 'postgres://app:s3cret@db.internal:5432/app?sslmode=require&password=p2', 'the config itself keeps the secret')
  })
})
