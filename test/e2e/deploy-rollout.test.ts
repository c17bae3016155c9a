/**
 * Three real `plinth serve` nodes (one PostgreSQL, one Redis) behind a real nginx running the
 * config `plinth deploy nginx` writes, under load from autocannon plus a loop of writes:
 * - a rolling restart of all three (src/deploy/rollout.ts; each node drains itself on SIGTERM,
 *   `shutdownDrain`) fails no request, read or write;
 * - a new release that never gets ready stops the rollout and rolls back, failing no request;
 * - a node killed with SIGKILL costs at most the requests in flight to it (reads are retried on
 *   another node), and none once nginx has marked it failed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { rollout, RolloutError } from '../../src/deploy/rollout.ts'
import type { NginxNode } from '../../src/deploy/nginx.ts'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup, superuserToken } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { nginxSkip } from '../helpers/nginx.ts'
import { startNginxCluster, type NginxCluster } from '../helpers/nginx-cluster.ts'
import { redisSkip, unusedPort } from '../helpers/redis.ts'
import { defaults } from '../../src/config/schema.ts'
import { assertNone, createPosts, load, writes } from '../helpers/cannon.ts'

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip()) || nginxSkip()

describe('rolling deploys behind the generated nginx', { skip, timeout: 600_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  const procs = new Map<number, ServeProcess>()
  let env: Record<string, string>
  let cwd: string
  let nodes: NginxNode[]
  let edge: NginxCluster

  const stopNode = async (port: number, signal: NodeJS.Signals = 'SIGTERM') => {
    const p = procs.get(port)
    if (!p) return
    procs.delete(port)
    p.child.kill(signal)
    await p.exited
  }
  const startNode = async (port: number, extra: Record<string, string> = {}) => {
    const p = await startServe(['--http', `127.0.0.1:${port}`], { ...env, ...extra }, cwd)
    procs.set(port, p)
  }

  before(async () => {
    ;({ env, cwd } = await clusterSetup(cleanup, 'plinth-rollout'))
    // Behind nginx: every request comes from 127.0.0.1, so per-address limits would throttle the
    // load itself; the client address is nginx's X-Real-IP, trusted from 127.0.0.1 only.
    env = { ...env, PLINTH_RATE_LIMITS_ENABLED: 'false', PLINTH_TRUST_PROXY: '127.0.0.1', PLINTH_TRUSTED_PROXY_HEADERS: 'X-Real-IP', PLINTH_SHUTDOWN_DRAIN: '5000' }
    nodes = []
    for (let i = 0; i < 3; i++) nodes.push({ host: '127.0.0.1', port: await unusedPort() })
    cleanup.push(async () => {
      for (const port of [...procs.keys()]) await stopNode(port)
    })
    for (const n of nodes) await startNode(n.port)
    edge = await startNginxCluster(nodes, defaults(cwd), 3)
    cleanup.push(() => edge.stop())

    await createPosts(edge.url, await superuserToken(edge.url))
  })
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('a rolling restart of every node fails no request, reads or writes', async () => {
    const reads = load(`${edge.url}/api/collections/posts/records?perPage=5`)
    const w = writes(edge.url)
    const pids: number[] = [...procs.values()].map((p) => p.child.pid!)
    const lines: string[] = []
    await rollout({
      nodes,
      async restart(node) {
        await stopNode(node.port)
        await startNode(node.port)
      },
      readyTimeoutMs: 30_000,
      log: (l) => lines.push(l),
    })
    // Keep the load on a moment with every node back, so requests reach the restarted ones.
    await new Promise((r) => setTimeout(r, 1000))
    const r = await reads.stop()
    const wr = await w.stop()
    assert.ok(r.requests.total > 100, `load ran: ${r.requests.total} requests`)
    assertNone('reads', r.non2xx + r.errors + r.timeouts, r.requests.total, [...reads.reqErrors, ...lines].join('\n'))
    assert.ok(wr.ok > 10, `writes ran: ${wr.ok}`)
    assertNone('writes', wr.failed.length, wr.ok + wr.failed.length, wr.failed.join('\n'))
    // Every node is a new process, and every acknowledged write is there.
    for (const p of procs.values()) assert.ok(!pids.includes(p.child.pid!))
    const list = (await (await fetch(`${edge.url}/api/collections/posts/records?perPage=1`)).json()) as { totalItems: number }
    assert.ok(list.totalItems >= wr.ok)
  })

  test('a release that never gets ready stops the rollout and is rolled back, failing no request', async () => {
    const reads = load(`${edge.url}/api/collections/posts/records?perPage=5`)
    const restarted: number[] = []
    const rolledBack: number[] = []
    await assert.rejects(
      rollout({
        nodes,
        async restart(node) {
          restarted.push(node.port)
          await stopNode(node.port)
          // The "new release" of the second node cannot reach its database: it exits at start-up.
          if (restarted.length === 2) return
          await startNode(node.port)
        },
        async rollback(node) {
          rolledBack.push(node.port)
          await stopNode(node.port)
          await startNode(node.port)
        },
        readyTimeoutMs: 3000,
      }),
      (err: Error) => err instanceof RolloutError && err.message.includes(`127.0.0.1:${nodes[1]!.port}`) && err.message.includes('rolled back'),
    )
    const r = await reads.stop()
    assert.deepEqual(restarted, [nodes[0]!.port, nodes[1]!.port], 'the third node was never touched')
    assert.deepEqual(rolledBack, [nodes[1]!.port, nodes[0]!.port])
    assertNone('reads', r.non2xx + r.errors + r.timeouts, r.requests.total, reads.reqErrors.join('\n'))
    // All three serve again.
    for (const n of nodes) assert.equal((await fetch(`http://127.0.0.1:${n.port}/api/ready`)).status, 200)
  })

  test('SIGKILL on one node: only answers in flight on it are lost; after the fail window nothing fails', async () => {
    const victim = nodes[2]!
    const reads = load(`${edge.url}/api/collections/posts/records?perPage=5`)
    await new Promise((r) => setTimeout(r, 500))
    await stopNode(victim.port, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 4000))
    const during = await reads.stop()
    // Idempotent requests that met the dead node went to another one (proxy_next_upstream); only
    // an answer the node was in the middle of sending when killed may be lost (at most one per connection).
    assert.ok(during.non2xx + during.errors <= 8, `${during.non2xx + during.errors} failed: ${reads.reqErrors.join('\n')}`)
    // Once nginx has marked it failed, nothing fails, reads or writes.
    const after = load(`${edge.url}/api/collections/posts/records?perPage=5`)
    const w = writes(edge.url)
    await new Promise((r) => setTimeout(r, 2000))
    const wr = await w.stop()
    const ar = await after.stop()
    assert.ok(wr.ok > 5)
    assert.deepEqual(wr.failed, [], 'writes once nginx knows the node is down')
    assert.deepEqual({ non2xx: ar.non2xx, errors: ar.errors }, { non2xx: 0, errors: 0 }, after.reqErrors.join('\n'))
    await startNode(victim.port)
  })
})
