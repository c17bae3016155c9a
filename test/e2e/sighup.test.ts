/**
 * `plinth serve` reloads its config on SIGHUP, a real child process: the admin allow-list, rate
 * limits, the log level and `cacheRecords` change without a restart; a setting that cannot change
 * live is named in one log line; a config that does not load is refused in one line and the
 * server keeps serving with its running settings.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { startServe, type ServeProcess } from '../helpers/cli.ts'

interface LogLine {
  msg?: string
  level?: number
  applied?: string[]
  restart?: string[]
  setting?: string
}

describe('plinth serve: SIGHUP reloads the config', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('applies what can change live, names what cannot, refuses a broken file', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'plinth-sighup-'))
    const file = path.join(cwd, 'plinth.config.json')
    const write = (c: unknown) => writeFileSync(file, JSON.stringify(c))
    const rules = (max: number) => ({ rules: [{ label: 'GET /api/health', maxRequests: max, duration: 60 }] })
    write({ logLevel: 'info', rateLimits: rules(1000), adminAllow: [], cacheRecords: false })
    const server: ServeProcess = await startServe([], { PLINTH_RATE_LIMITS_ENABLED: 'true' }, cwd, ({ child, exited }) =>
      cleanup.push(async () => {
        child.kill('SIGTERM')
        await exited
      }),
    )
    let out = ''
    server.child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    const lines = (): LogLine[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
    const sighup = async (what: (l: LogLine) => boolean) => {
      const before = lines().length
      server.child.kill('SIGHUP')
      // Waits for the answer line (a state, with a bound that only makes a hang readable).
      for (let i = 0; i < 600 && !lines().slice(before).some(what); i++) await new Promise((r) => setTimeout(r, 50))
      return lines().slice(before)
    }

    for (let i = 0; i < 5; i++) assert.equal((await fetch(`${server.url}/api/health`)).status, 200)
    const collections = await fetch(`${server.url}/api/collections`)
    assert.notEqual(collections.status, 403)

    write({ logLevel: 'debug', rateLimits: rules(2), adminAllow: ['10.9.9.9'], cacheRecords: true, bodyLimit: 4096 })
    const reloaded = await sighup((l) => l.msg?.startsWith('config reloaded') ?? false)
    const done = reloaded.find((l) => l.msg?.startsWith('config reloaded'))
    assert.ok(done, JSON.stringify(reloaded))
    assert.deepEqual([...done.applied!].sort(), ['adminAllow', 'cacheRecords', 'logLevel', 'rateLimits'])
    assert.deepEqual(done.restart, ['bodyLimit'])
    const restartLines = reloaded.filter((l) => l.setting === 'bodyLimit')
    assert.equal(restartLines.length, 1)
    assert.match(restartLines[0]!.msg!, /bodyLimit changed but cannot change while running/)

    // The new limit: 2 per minute (the 5 before count in the same window, so a 429 comes at once).
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${server.url}/api/health`)).status)
    assert.ok(statuses.includes(429), statuses.join(','))
    // The allow-list: this address is no longer let through to superuser routes.
    const refused = await fetch(`${server.url}/api/collections`)
    assert.equal(refused.status, 403)
    assert.equal(((await refused.json()) as { message: string }).message, 'Superuser routes are not reachable from this address.')
    // Debug lines now appear (pino level 20).
    await fetch(`${server.url}/api/ready`)
    for (let i = 0; i < 100 && !lines().some((l) => l.level === 20); i++) await new Promise((r) => setTimeout(r, 50))
    assert.ok(lines().some((l) => l.level === 20), 'debug lines once logLevel is debug')

    // A broken file: one line naming it, and the running settings stay.
    writeFileSync(file, '{"logLevel": "loud"}')
    const refusedReload = await sighup((l) => l.msg?.startsWith('config reload refused') ?? false)
    const line = refusedReload.find((l) => l.msg?.startsWith('config reload refused'))
    assert.ok(line, JSON.stringify(refusedReload))
    assert.match(line.msg!, /logLevel/)
    assert.equal((await fetch(`${server.url}/api/collections`)).status, 403)

    // Back to no allow-list and a loose limit.
    write({ logLevel: 'info', rateLimits: rules(1000), adminAllow: [], cacheRecords: false })
    await sighup((l) => l.msg?.startsWith('config reloaded') ?? false)
    assert.notEqual((await fetch(`${server.url}/api/collections`)).status, 403)
  })
})
