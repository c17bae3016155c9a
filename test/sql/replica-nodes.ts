/**
 * In-process Plinth nodes for the replica tests: each its own createPlinth over the same
 * database URLs (and Redis, when given), like two API nodes behind nginx.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LightMyRequestResponse } from 'fastify'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import type { ConfigInput } from '../../src/config/schema.ts'
import { createLogger } from '../../src/log.ts'

export interface Node {
  app: Plinth
  su: string
  call(method: string, url: string, opts?: { token?: string; body?: unknown }): Promise<LightMyRequestResponse>
  close(): Promise<void>
}

/** A node over `overrides`; `first` creates the superuser the nodes share. */
export async function clusterNode(overrides: ConfigInput, first: boolean, dir = mkdtempSync(path.join(tmpdir(), 'plinth-node-'))): Promise<Node> {
  const app = await createPlinth({
    config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent', ...overrides } },
    logger: createLogger({ logLevel: 'silent' }),
  })
  if (first) await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  const call: Node['call'] = (method, url, opts = {}) =>
    app.http.inject({
      method: method as 'GET',
      url,
      headers: opts.token ? { authorization: opts.token } : {},
      ...(opts.body === undefined ? {} : { payload: opts.body as object }),
    })
  const res = await call('POST', '/api/collections/_superusers/auth-with-password', { body: { identity: 'root@example.com', password: 'root-password-1' } })
  assert.equal(res.statusCode, 200, res.body)
  let closed = false
  return {
    app,
    su: res.json<{ token: string }>().token,
    call,
    async close() {
      if (closed) return
      closed = true
      await app.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A base collection `notes` (title) that anyone may list and view. */
export async function makeNotes(node: Node): Promise<void> {
  const res = await node.call('POST', '/api/collections', {
    token: node.su,
    body: { name: 'notes', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'title', type: 'text' }] },
  })
  assert.equal(res.statusCode, 200, res.body)
}

/** Polls `check` every 50 ms until it holds; fails after `ms` (a bound, not a timing assertion). */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(50)
  }
  assert.fail(`timed out waiting until ${what}`)
}

/** How many writes (each followed by a read) the outage loop sends in each phase. */
export interface OutagePhases {
  /** Before the stop: all acknowledged. */
  before: number
  /** While the primary is stopping: each acknowledged or refused, never a 500. */
  stopping: number
  /** Once it is down: all refused with 503 `unavailable`. */
  down: number
  /** Once writes resume: all acknowledged. */
  after: number
}

/**
 * The primary goes away under load and comes back: reads are served (from the replica) all along,
 * writes are acknowledged or refused at once with PocketBase's error shape and 503 `unavailable`,
 * writes resume without a restart, and every acknowledged write is there at the end.
 */
export async function outageLoop(node: Node, primary: { stop(): Promise<unknown>; start(): Promise<unknown> }, phases: OutagePhases): Promise<void> {
  const acknowledged: string[] = []
  let refused = 0
  let i = 0
  const write = async () => {
    const res = await node.call('POST', '/api/collections/notes/records', { token: node.su, body: { title: `w${i++}` } })
    if (res.statusCode === 200) acknowledged.push(res.json<{ id: string }>().id)
    else {
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.headers['x-plinth-error'], 'unavailable')
      assert.deepEqual(Object.keys(res.json<object>()).sort(), ['data', 'message', 'status'])
      refused++
    }
    return res.statusCode
  }
  const read = async () => {
    const res = await node.call('GET', '/api/collections/notes/records?perPage=5')
    assert.equal(res.statusCode, 200, `a read failed during the outage: ${res.body}`)
  }
  const round = async (n: number, expected?: number) => {
    for (let k = 0; k < n; k++) {
      const status = await write()
      if (expected !== undefined) assert.equal(status, expected)
      await read()
    }
  }

  await round(phases.before, 200)
  const stopping = primary.stop()
  await round(phases.stopping)
  await stopping
  await round(phases.down, 503)
  // Nothing waits on the dead server: the router refuses at once (no connect timeout per write).
  assert.equal(node.app.sql.instances().find((m) => m.role === 'primary')!.up, false)

  await primary.start()
  await waitFor('writes resume', async () => (await write()) === 200)
  await round(phases.after, 200)
  for (const id of acknowledged) {
    const res = await node.call('GET', `/api/collections/notes/records/${id}`, { token: node.su })
    assert.equal(res.statusCode, 200, `acknowledged write ${id} is missing`)
  }
  assert.ok(acknowledged.length >= phases.before + 1 + phases.after && refused >= phases.down)
}
