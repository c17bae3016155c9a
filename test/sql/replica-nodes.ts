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
