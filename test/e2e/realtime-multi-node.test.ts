/**
 * Realtime across two real `plinth serve` processes on one PostgreSQL and one Redis: a record
 * written through one node reaches SDK subscribers connected to the other (each committed change
 * is published once on the bus, each node delivers to its own clients), and SIGTERM ends a node's
 * open streams cleanly before it exits 0, so clients can reconnect to the other node.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { EventSource } from 'eventsource'
import PocketBase from 'pocketbase'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip } from '../helpers/redis.ts'

// The SDK opens its stream with the global EventSource, which Node 20 does not have.
;(globalThis as { EventSource?: unknown }).EventSource = EventSource

/** Polls `check` until it holds; the bound only turns a lost event into a readable failure. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, boundMs = 30_000): Promise<void> {
  const end = Date.now() + boundMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not seen within ${boundMs / 1000} s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Unsubscribes and stops the SDK's reconnects for good. */
async function hangUp(pb: PocketBase): Promise<void> {
  await pb.realtime.unsubscribe().catch(() => undefined)
  ;(pb.realtime as unknown as { disconnect(): void }).disconnect()
}

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip())

describe('realtime across two plinth serve nodes on one PostgreSQL and one Redis', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('a write on one node reaches subscribers on the other; SIGTERM ends streams cleanly', async () => {
    const { env, cwd } = await clusterSetup(cleanup, 'plinth-rt-nodes')
    const start = () =>
      startServe([], env, cwd, ({ child, exited }) =>
        cleanup.push(async () => {
          child.kill('SIGTERM')
          await exited
        }),
      )
    const a: ServeProcess = await start()
    const b: ServeProcess = await start()

    const admin = new PocketBase(a.url)
    admin.autoCancellation(false)
    await admin.collection('_superusers').authWithPassword('root@example.com', 'a-long-password')
    await admin.collections.create({ name: 'feed', type: 'base', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'title', type: 'text' }] })
    await eventually('B serves the collection A created', async () => (await fetch(`${b.url}/api/collections/feed/records`)).status === 200)

    const onA = new PocketBase(a.url)
    const onB = new PocketBase(b.url)
    const seenA: string[] = []
    const seenB: string[] = []
    await onA.collection('feed').subscribe('*', (e) => seenA.push(`${e.action}:${String(e.record.title)}`))
    await onB.collection('feed').subscribe('*', (e) => seenB.push(`${e.action}:${String(e.record.title)}`))

    const viaA = await admin.collection('feed').create({ title: 'from-a' })
    await eventually('the write on A reaches the subscriber on B', () => seenB.length >= 1)
    const adminB = new PocketBase(b.url)
    adminB.autoCancellation(false)
    adminB.authStore.save(admin.authStore.token, admin.authStore.record)
    await adminB.collection('feed').update(viaA.id, { title: 'from-b' })
    await eventually('the write on B reaches the subscriber on A', () => seenA.length >= 2)
    await eventually('and B sees its own write', () => seenB.length >= 2)
    // Once each, in commit order, on both nodes.
    assert.deepEqual(seenA, ['create:from-a', 'update:from-b'])
    assert.deepEqual(seenB, ['create:from-a', 'update:from-b'])
    await hangUp(onA)
    await hangUp(onB)

    // Behind a round-robin proxy a subscribe request may reach another node than the stream:
    // the stream on B, every request (the subscribe too) sent to A, which forwards it to B.
    const split = new PocketBase(b.url)
    split.beforeSend = (u, options) => ({ url: u.replace(b.url, a.url), options })
    const seenSplit: string[] = []
    await split.collection('feed').subscribe('*', (e) => seenSplit.push(`${e.action}:${String(e.record.title)}`))
    await admin.collection('feed').create({ title: 'split' })
    await eventually('the event on the stream whose subscribe went to the other node', () => seenSplit.length >= 1)
    assert.deepEqual(seenSplit, ['create:split'])
    const clientId = split.realtime.clientId
    const postToA = (id: string, token?: string) =>
      fetch(`${a.url}/api/realtime`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) }, body: JSON.stringify({ clientId: id, subscriptions: ['feed/*'] }) })
    assert.equal((await postToA(clientId, admin.authStore.token)).status, 204, 'a guest client may sign in, through the other node')
    const refused = await postToA(clientId)
    assert.equal(refused.status, 403, 'B refuses a change of auth sent through A')
    assert.equal(((await refused.json()) as { message: string }).message, "The current and the previous request authorization don't match.")
    assert.equal((await postToA(clientId.slice(0, 8) + 'x'.repeat(32))).status, 404, 'B has no such client')
    await hangUp(split)

    // A raw stream on B: SIGTERM ends it (the read sees the end) and B exits 0.
    const res = await fetch(`${b.url}/api/realtime`)
    const reader = res.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    assert.match(first, /event:PB_CONNECT/)
    b.child.kill('SIGTERM')
    let ended = false
    while (!ended) ended = (await reader.read()).done
    const exit = await b.exited
    assert.equal(exit.code, 0, exit.stderr)
  })
})
