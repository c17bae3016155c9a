/**
 * Two real `plinth serve` processes on one PostgreSQL database and one Redis: a collection created,
 * changed or deleted through one node is served by the other without a restart (the schema change
 * travels over the bus; each node recompiles its collections).
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip } from '../helpers/redis.ts'

type Node = ServeProcess

/** `plinth serve` on a free port; stopped (SIGTERM) by `cleanup` however start-up ends. */
function startNode(env: Record<string, string>, cwd: string, cleanup: (() => Promise<unknown>)[]): Promise<Node> {
  return startServe([], env, cwd, ({ child, exited }) =>
    cleanup.push(async () => {
      child.kill('SIGTERM')
      await exited
    }),
  )
}

/** Polls `check` until it holds; the bound only turns a lost change into a readable failure. */
async function eventually(what: string, check: () => Promise<boolean>, boundMs = 30_000): Promise<void> {
  const end = Date.now() + boundMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not seen within ${boundMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip())

describe('two plinth serve nodes on one PostgreSQL and one Redis', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('each serves the collections the other creates, changes and deletes, without a restart', async () => {
    const { env, cwd } = await clusterSetup(cleanup, 'plinth-nodes')

    const a = await startNode(env, cwd, cleanup)
    const b = await startNode(env, cwd, cleanup)

    const auth = await fetch(`${a.url}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'root@example.com', password: 'a-long-password' }),
    })
    assert.equal(auth.status, 200)
    const { token } = (await auth.json()) as { token: string }
    const call = (node: Node, method: string, url: string, body?: unknown) =>
      fetch(`${node.url}${url}`, {
        method,
        headers: { authorization: token, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })

    // Both nodes have loaded the schema before the change: B must learn of it, not load it late.
    assert.equal((await call(b, 'GET', '/api/collections/notes/records')).status, 404)

    const created = await call(a, 'POST', '/api/collections', {
      name: 'notes', type: 'base', listRule: '', viewRule: '', createRule: '',
      fields: [{ name: 'title', type: 'text' }],
    })
    assert.equal(created.status, 200, await created.clone().text())
    await eventually('B serves the collection A created', async () => (await call(b, 'GET', '/api/collections/notes/records')).status === 200)

    // A field added on B is accepted by A.
    const changed = await call(b, 'PATCH', '/api/collections/notes', {
      fields: [{ name: 'title', type: 'text' }, { name: 'stars', type: 'number' }],
    })
    assert.equal(changed.status, 200, await changed.clone().text())
    await eventually('A knows the field B added', async () => {
      const r = await call(a, 'POST', '/api/collections/notes/records', { title: 'x', stars: 3 })
      return r.status === 200 && ((await r.json()) as { stars?: number }).stars === 3
    })

    // A rule changed on A applies on B: guests lose read access.
    assert.equal((await call(a, 'PATCH', '/api/collections/notes', { listRule: null })).status, 200)
    await eventually('B applies the rule A changed', async () => (await fetch(`${b.url}/api/collections/notes/records`)).status === 403)

    assert.equal((await call(a, 'DELETE', '/api/collections/notes')).status, 204)
    await eventually('B forgets the collection A deleted', async () => (await call(b, 'GET', '/api/collections/notes/records')).status === 404)
  })
})
