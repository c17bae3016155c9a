/**
 * The logger itself: JSON or pretty lines, and stdout through a buffer that still delivers every
 * line, in order, both when the process ends through `endLog` and when traffic stops.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { createLogger, type LogSettings } from '../src/log.ts'

const LOG_MODULE = pathToFileURL(new URL('../src/log.ts', import.meta.url).pathname).href

function capture(settings: LogSettings): { log: ReturnType<typeof createLogger>; text: () => string } {
  let text = ''
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString()
      done()
    },
  })
  return { log: createLogger(settings, sink), text: () => text }
}

describe('log format', () => {
  test('json (the default): one JSON object a line', () => {
    const { log, text } = capture({ logLevel: 'info' })
    log.info({ a: 1 }, 'hello')
    const lines = text().trimEnd().split('\n')
    assert.equal(lines.length, 1)
    const line = JSON.parse(lines[0]!) as Record<string, unknown>
    assert.equal(line.msg, 'hello')
    assert.equal(line.a, 1)
  })

  test('pretty: one readable line per record; a request line leads with method, url, status and time', () => {
    const { log, text } = capture({ logLevel: 'info', logFormat: 'pretty' })
    log.child({ reqId: 'r-1' }).info({ method: 'GET', url: '/api/health?x=1', status: 200, ms: 0.42 }, 'request')
    log.warn({ engine: 'sqlite' }, 'something to see')
    const lines = text().trimEnd().split('\n')
    assert.equal(lines.length, 2, text())
    assert.throws(() => JSON.parse(lines[0]!), 'not JSON')
    assert.match(lines[0]!, /INFO.*: GET \/api\/health\?x=1 200 0\.42ms \{"reqId":"r-1"\}$/)
    assert.doesNotMatch(lines[0]!, /"method"|"status"|"pid"/, 'the fields in the message are not repeated')
    assert.match(lines[1]!, /WARN.*: something to see \{"engine":"sqlite"\}$/)
  })

  test('the level still filters', () => {
    const { log, text } = capture({ logLevel: 'warn', logFormat: 'pretty' })
    log.info('quiet')
    assert.equal(text(), '')
  })
})

/**
 * Runs `body` in a child process with `createLogger` and `endLog` imported; resolves with its
 * stdout once it exits, or once `until` holds for it (the child is then killed). `within` only
 * bounds a hang: after it the child is killed and whatever it wrote is returned.
 */
function child(body: string, opts: { until?: (stdout: string) => boolean; within?: number } = {}): Promise<string> {
  const code = `import { createLogger, endLog } from ${JSON.stringify(LOG_MODULE)}\n${body}`
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  const killer = setTimeout(() => p.kill(), opts.within ?? 60_000)
  let out = ''
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (opts.until?.(out)) p.kill()
  })
  return new Promise((resolve, reject) => {
    p.on('error', reject)
    p.on('close', () => {
      clearTimeout(killer)
      resolve(out)
    })
  })
}

describe('log output to stdout', () => {
  test('endLog writes every buffered line, in order, before the process exits', async () => {
    const out = await child(`
      const log = createLogger({ logLevel: 'info' })
      for (let i = 0; i < 3000; i++) {
        log.info({ i }, 'line')
        if (i % 500 === 0) await new Promise((r) => setImmediate(r))
      }
      log.info('last')
      endLog(log, () => process.exit(0))
    `)
    const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l) as { i?: number; msg: string })
    assert.equal(lines.length, 3001)
    lines.slice(0, 3000).forEach((l, i) => assert.equal(l.i, i))
    assert.equal(lines.at(-1)!.msg, 'last')
  })

  test('a process that exits without endLog still writes what is held, in order', async () => {
    const out = await child(`
      const log = createLogger({ logLevel: 'info' })
      for (let i = 0; i < 1000; i++) log.info({ i }, 'line')
      log.info('going down')
      process.exit(3)
    `)
    const lines = out.trimEnd().split('\n').map((l) => JSON.parse(l) as { i?: number; msg: string })
    assert.equal(lines.length, 1001)
    lines.slice(0, 1000).forEach((l, i) => assert.equal(l.i, i))
    assert.equal(lines.at(-1)!.msg, 'going down')
  })

  test('pino-pretty is loaded only when pretty is chosen', async () => {
    const out = await child(`
      import { createRequire } from 'node:module'
      const cache = createRequire(import.meta.url).cache
      const loaded = () => Object.keys(cache).some((k) => k.includes('pino-pretty'))
      createLogger({ logLevel: 'info', logFormat: 'json' })
      const json = loaded()
      createLogger({ logLevel: 'info', logFormat: 'pretty' })
      process.stdout.write(JSON.stringify({ json, pretty: loaded() }) + '\\n')
    `)
    assert.deepEqual(JSON.parse(out), { json: false, pretty: true })
  })

  test('a line too small to fill the buffer still goes out while the process runs on', async () => {
    // The child would run for a minute (and write its buffer at exit); it is killed as soon as its
    // one line arrives, or after 20 s, which only bounds a hang: the flush is due within 0.2 s.
    const out = await child(
      `
      const log = createLogger({ logLevel: 'info' })
      log.info('alone')
      setTimeout(() => {}, 60_000)
    `,
      { until: (stdout) => stdout.includes('\n'), within: 20_000 },
    )
    assert.equal((JSON.parse(out.trimEnd()) as { msg: string }).msg, 'alone')
  })
})
