/**
 * IM on two real `plinth serve` processes sharing PostgreSQL and Redis: messages cross nodes; a
 * retried send through the other node stays one message; concurrent senders on both nodes get
 * consecutive seqs; a token revoked through one node closes the socket on the other; one node
 * is killed mid-conversation and the client resumes on the other with no gap and no duplicate.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip } from '../helpers/redis.ts'
import { ImClient, type Frame } from '../im/client.ts'

function startNode(env: Record<string, string>, cwd: string, cleanup: (() => Promise<unknown>)[]): Promise<ServeProcess> {
  return startServe([], env, cwd, ({ child, exited }) =>
    cleanup.push(async () => {
      child.kill('SIGTERM')
      await exited
    }),
  )
}

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip())

describe('IM on two plinth serve nodes sharing PostgreSQL and Redis', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('cross-node delivery, dedupe, seqs, revocation, and resume after a node is killed', async () => {
    const { env, cwd } = await clusterSetup(cleanup, 'plinth-im')
    writeFileSync(path.join(cwd, 'plinth.config.json'), JSON.stringify({ rateLimits: { enabled: false }, im: { userRate: 0, connectionRate: 0 } }))
    const a = await startNode(env, cwd, cleanup)
    const b = await startNode(env, cwd, cleanup)
    const call = async (node: ServeProcess, method: string, url: string, token: string | undefined, body?: unknown) => {
      const res = await fetch(`${node.url}${url}`, {
        method,
        headers: { ...(token ? { authorization: token } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })
      const text = await res.text()
      assert.ok(res.ok, `${method} ${url}: ${res.status} ${text}`)
      return (text ? JSON.parse(text) : undefined) as Record<string, unknown>
    }
    const su = (await call(a, 'POST', '/api/collections/_superusers/auth-with-password', undefined, { identity: 'root@example.com', password: 'a-long-password' })).token as string
    const users: Record<string, { id: string; token: string }> = {}
    for (const name of ['alice', 'bob']) {
      const rec = await call(a, 'POST', '/api/collections/users/records', su, { email: `${name}@example.com`, password: 'a-long-password', passwordConfirm: 'a-long-password' })
      const login = await call(b, 'POST', '/api/collections/users/auth-with-password', undefined, { identity: `${name}@example.com`, password: 'a-long-password' })
      users[name] = { id: rec.id as string, token: login.token as string }
    }
    const conv = (await call(a, 'POST', '/api/plinth/im/conversations', users.alice!.token, { kind: 'direct', user: users.bob!.id })).id as string
    const send = (c: ImClient, clientId: string, text: string) => c.request({ type: 'send', conversation: conv, clientId, kind: 'text', body: { text } })

    // Alice on A, Bob on B: messages cross in both directions; presence is shared.
    let alice = await ImClient.open(a.url, { token: users.alice!.token })
    let bob = await ImClient.open(b.url, { token: users.bob!.token })
    const first = await send(alice, 'm-1', 'hi bob')
    assert.equal(first.seq, 1)
    assert.equal((await bob.next((f) => f.type === 'message' && f.seq === 1)).body && 'ok', 'ok')
    const reply = await send(bob, 'm-2', 'hi alice')
    assert.equal((await alice.next((f) => f.type === 'message' && f.seq === reply.seq)).sender, users.bob!.id)
    const presence = await alice.request({ type: 'presence', users: [users.bob!.id] })
    assert.deepEqual(presence.users, { [users.bob!.id]: true })

    // A retry through the other node after a lost ack: the same message.
    const retried = await (async () => {
      const alsoAlice = await ImClient.open(b.url, { token: users.alice!.token })
      const r = await send(alsoAlice, 'm-1', 'hi bob')
      await alsoAlice.close()
      return r
    })()
    assert.deepEqual([retried.id, retried.seq, retried.duplicate], [first.id, 1, true])

    // Both nodes send at once: consecutive seqs, no gaps.
    const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => send(i % 2 ? alice : bob, `par-${i}`, `p${i}`)))
    const seqs = acks.map((x) => x.seq as number).sort((x, y) => x - y)
    assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => 3 + i))
    const history = await call(a, 'GET', `/api/plinth/im/conversations/${conv}/messages?limit=200`, users.bob!.token)
    assert.deepEqual((history.items as Frame[]).map((m) => m.seq), Array.from({ length: 32 }, (_, i) => 32 - i))
    // Bob's connection gets Alice's messages (its own were acked).
    const lastOfAlice = Math.max(...acks.filter((_, i) => i % 2).map((x) => x.seq as number))
    await bob.next((f) => f.type === 'message' && f.seq === lastOfAlice)
    bob.takeMessages(conv)

    // Bob's password changes through node A: his socket on node B closes (revoked).
    await call(a, 'PATCH', `/api/collections/users/records/${users.bob!.id}`, su, { password: 'a-new-long-password', passwordConfirm: 'a-new-long-password' })
    assert.equal((await bob.closed).code, 4003)
    users.bob!.token = (await call(a, 'POST', '/api/collections/users/auth-with-password', undefined, { identity: 'bob@example.com', password: 'a-new-long-password' })).token as string

    // Mid-conversation, node B (Bob's) is killed; Alice keeps sending on A. Bob resumes on A.
    bob = await ImClient.open(b.url, { token: users.bob!.token, hold: true })
    await bob.request({ type: 'resume', conversations: { [conv]: 32 } })
    const received: number[] = []
    const sending = (async () => {
      for (let i = 0; i < 40; i++) {
        await send(alice, `k-${i}`, `during ${i}`)
        if (i === 10) b.child.kill('SIGKILL')
      }
    })()
    const closed = await bob.closed
    assert.equal(closed.code, 1006, 'the killed node just vanished')
    for (const f of bob.takeMessages(conv)) received.push(f.seq as number)
    const lastSeen = received.at(-1) ?? 32
    bob = await ImClient.open(a.url, { token: users.bob!.token, hold: true })
    const resumed = await bob.request({ type: 'resume', conversations: { [conv]: lastSeen } })
    assert.equal(resumed.type, 'resumed')
    await sending
    await bob.next((f) => f.type === 'message' && f.seq === 72)
    for (const f of bob.takeMessages(conv)) received.push(f.seq as number)
    received.push(72)
    assert.deepEqual(received, Array.from({ length: 40 }, (_, i) => 33 + i), `every message once, in order, across the two connections: ${received.join(',')}`)
    await alice.close()
    await bob.close()
    alice = undefined as unknown as ImClient
  })
})
