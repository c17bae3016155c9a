/**
 * Phone sign-in with the real `plinth serve`:
 * - a newcomer on the defaults (SQLite, console SMS) signs in by phone with the code printed in the log;
 * - two nodes on one PostgreSQL and one Redis enforce one set of limits between them;
 * - with Redis unreachable, a code request is refused (503) and nothing is sent.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip, unusedPort } from '../helpers/redis.ts'

/** A node whose stdout is kept, stopped (SIGTERM) by `cleanup` however start-up ends. */
async function startNode(env: Record<string, string>, cwd: string, cleanup: (() => Promise<unknown>)[]): Promise<ServeProcess & { out: () => string }> {
  let out = ''
  const node = await startServe([], env, cwd, ({ child, exited }) => {
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    cleanup.push(async () => {
      child.kill('SIGTERM')
      await exited
    })
  })
  return { ...node, out: () => out }
}

/** The console engine's log lines: `{to, code}` of each SMS "sent". */
function consoleCodes(out: string): { to: string; code: string }[] {
  return out
    .split('\n')
    .filter((l) => l.includes('"sms":{'))
    .map((l) => (JSON.parse(l) as { sms: { to: string; code: string } }).sms)
}

/** Polls until `check` holds; the bound only turns a lost message into a readable failure. */
async function eventually<T>(what: string, check: () => T | undefined, boundMs = 30_000): Promise<T> {
  const end = Date.now() + boundMs
  for (;;) {
    const v = check()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`${what}: not seen within ${boundMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const post = async (base: string, url: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${base}/api/collections/users/${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const redisDown = await redisSkip()
const skip = pg.skip || redisDown

describe('phone sign-in on a real server', () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('a newcomer on the defaults signs in by phone with the code from the log', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'plinth-sms-e2e-'))
    cleanup.push(async () => rmSync(cwd, { recursive: true, force: true }))
    const node = await startNode({}, cwd, cleanup)
    const asked = await post(node.url, 'request-sms-code', { phone: '+86 138 0013 8000' })
    assert.equal(asked.status, 200)
    const { code } = await eventually('the code in the log', () => consoleCodes(node.out()).find((s) => s.to === '+8613800138000'))
    const signed = await post(node.url, 'auth-with-sms-code', { smsId: asked.body.smsId, code })
    assert.equal(signed.status, 200, JSON.stringify(signed.body))
    assert.equal((signed.body.record as { phone: string }).phone, '+8613800138000')
  })

  test('two nodes sharing Redis enforce one limit', { skip }, async () => {
    const { env, cwd } = await clusterSetup(cleanup, 'plinth-sms-nodes')
    const a = await startNode(env, cwd, cleanup)
    const b = await startNode(env, cwd, cleanup)
    // One number asked on both nodes within the minute: one SMS in all.
    const first = await post(a.url, 'request-sms-code', { phone: '+8613900139000' })
    const second = await post(b.url, 'request-sms-code', { phone: '+8613900139000' })
    assert.deepEqual([first.status, second.status], [200, 200])
    // The per-address limit (20 an hour) counts across both: 18 more from 127.0.0.1 pass, then refusals.
    const statuses: number[] = []
    for (let i = 0; i < 24; i++) statuses.push((await post(i % 2 ? a.url : b.url, 'request-sms-code', { phone: `+86137${String(10_000_000 + i)}` })).status)
    assert.deepEqual(statuses, [...Array<number>(18).fill(200), ...Array<number>(6).fill(429)])
    await eventually('the 19 SMS', () => (consoleCodes(a.out() + b.out()).length >= 19 ? true : undefined))
    const sent = consoleCodes(a.out() + b.out())
    assert.equal(sent.filter((s) => s.to === '+8613900139000').length, 1, 'one SMS to the number asked twice')
    assert.equal(sent.length, 19)
  })

  test('with Redis unreachable a code request is refused and nothing is sent', { skip: redisDown }, async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'plinth-sms-down-'))
    cleanup.push(async () => rmSync(cwd, { recursive: true, force: true }))
    const node = await startNode({ PLINTH_REDIS: `redis://127.0.0.1:${await unusedPort()}/15` }, cwd, cleanup)
    const asked = await post(node.url, 'request-sms-code', { phone: '+8613800138000' })
    assert.equal(asked.status, 503)
    assert.deepEqual(consoleCodes(node.out()), [])
  })
})
