/**
 * Two real `plinth serve` processes on one PostgreSQL database and one Redis, with
 * `PLINTH_CACHE_RECORDS=true`: a record written through A is read through B at once, never the
 * value B's cache held before, over many rounds (views and lists, as a guest and signed in).
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip } from '../helpers/redis.ts'

const pg = (await engines(['postgres']))[0]!
const skip = pg.skip || (await redisSkip())

describe('records cache: two plinth serve processes on one PostgreSQL and one Redis', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('write on A, read on B at once: never stale', async () => {
    const { env, cwd } = await clusterSetup(cleanup, 'plinth-cache-nodes')
    const start = (): Promise<ServeProcess> =>
      startServe([], { ...env, PLINTH_CACHE_RECORDS: 'true' }, cwd, ({ child, exited }) =>
        cleanup.push(async () => {
          child.kill('SIGTERM')
          await exited
        }),
      )
    const a = await start()
    const b = await start()
    const auth = await fetch(`${a.url}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'root@example.com', password: 'a-long-password' }),
    })
    const { token } = (await auth.json()) as { token: string }
    const call = async <T>(node: ServeProcess, method: string, url: string, opts: { body?: unknown; guest?: boolean } = {}): Promise<{ status: number; json: T }> => {
      const res = await fetch(`${node.url}${url}`, {
        method,
        headers: { ...(opts.guest ? {} : { authorization: token }), ...(opts.body ? { 'content-type': 'application/json' } : {}) },
        body: opts.body ? JSON.stringify(opts.body) : undefined,
      })
      return { status: res.status, json: (res.status === 204 ? undefined : await res.json()) as T }
    }
    const made = await call(a, 'POST', '/api/collections', { body: { name: 'memos', type: 'base', listRule: '', viewRule: '', fields: [{ name: 'title', type: 'text' }] } })
    assert.equal(made.status, 200, JSON.stringify(made.json))
    // B learns of the collection over the bus (or its 5 s check).
    for (let i = 0; i < 600 && (await call(b, 'GET', '/api/collections/memos/records')).status !== 200; i++) await new Promise((r) => setTimeout(r, 50))
    const { json: rec } = await call<{ id: string }>(a, 'POST', '/api/collections/memos/records', { body: { title: 'start' } })
    for (let i = 0; i < 100; i++) {
      for (let k = 0; k < 2; k++) await call(b, 'GET', `/api/collections/memos/records/${rec.id}`, { guest: true })
      await call(b, 'GET', '/api/collections/memos/records', { guest: true })
      const title = `t${i}`
      assert.equal((await call(a, 'PATCH', `/api/collections/memos/records/${rec.id}`, { body: { title } })).status, 200)
      assert.equal((await call<{ title: string }>(b, 'GET', `/api/collections/memos/records/${rec.id}`, { guest: true })).json.title, title, `round ${i}`)
      assert.equal((await call<{ items: { title: string }[] }>(b, 'GET', '/api/collections/memos/records', { guest: true })).json.items[0]?.title, title)
    }
  })
})
