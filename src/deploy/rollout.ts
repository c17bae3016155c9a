/**
 * Rolling deploys, one node at a time, with no failed requests. Each node takes itself out: on
 * SIGTERM with `shutdownDrain` set it answers `/api/ready` with 503 and closes each connection
 * after its answer, so nginx's kept-alive connections end cleanly (nginx drops idle ones after its
 * upstream `keepalive_timeout`, 2 s, well under the drain); then it stops listening, and nginx
 * sends what comes next to the other nodes (a refused connection is retried there, writes
 * included, as nothing was sent). nginx is never reloaded: a reload closes clients' idle
 * keep-alive connections, which races their next request.
 *
 * For each node: run the operator's restart (new release, then stop and start: `systemctl
 * restart plinth-api`), wait until its `/api/ready` answers 200 and then `settleMs` (nginx takes
 * it back), go on. A node not ready in time stops the rollout: it and every node already updated
 * are rolled back (newest first) with the rollback command, and the error names the node.
 */
import type { NginxNode } from './nginx.ts'

export interface RolloutOptions {
  nodes: NginxNode[]
  /** Deploys the new release on `node` and restarts it (resolves once the restart is under way or done). */
  restart(node: NginxNode): Promise<void>
  /** Puts the previous release back on `node` and restarts it; without it a failure only stops. */
  rollback?(node: NginxNode): Promise<void>
  /** Resolves true once the node is ready (default: GET http://node/api/ready answers 200). */
  ready?(node: NginxNode, timeoutMs: number): Promise<boolean>
  readyTimeoutMs?: number
  /**
   * How long to wait after a node is ready before restarting the next (DEFAULT_SETTLE_MS). nginx
   * marks a node that refused connections as failed for its `fail_timeout` (5 s in `plinth deploy
   * nginx`) and only then tries it again; moving on sooner could leave it with no node it deems
   * live (two nodes: the one draining and the one just back), and it would answer 502. Waited
   * after the last node too, so a rollout (or a rollback) right after this one finds every node live.
   */
  settleMs?: number
  /** Progress lines. */
  log?(line: string): void
}

export class RolloutError extends Error {}

/** The default `settleMs`: above the `fail_timeout` (5 s) of `plinth deploy nginx`. */
export const DEFAULT_SETTLE_MS = 6000

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const label = (n: NginxNode) => `${n.host}:${n.port}`

/** Polls `/api/ready` every 200 ms until 200 or the timeout. */
export async function waitReady(node: NginxNode, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  const host = node.host.includes(':') && !node.host.startsWith('[') ? `[${node.host}]` : node.host
  while (Date.now() < until) {
    try {
      const res = await fetch(`http://${host}:${node.port}/api/ready`, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.status === 200) return true
    } catch {
      // not listening yet
    }
    await sleep(200)
  }
  return false
}

/** Runs the rollout; resolves when every node runs the new release and is ready. */
export async function rollout(o: RolloutOptions): Promise<void> {
  const log = o.log ?? (() => undefined)
  const ready = o.ready ?? waitReady
  const readyTimeoutMs = o.readyTimeoutMs ?? 60_000
  const nodes = o.nodes
  const cycle = async (node: NginxNode, step: (n: NginxNode) => Promise<void>, what: string): Promise<boolean> => {
    log(`${label(node)}: ${what}`)
    await step(node)
    const ok = await ready(node, readyTimeoutMs)
    if (ok) log(`${label(node)}: ready`)
    return ok
  }
  const settleMs = o.settleMs ?? DEFAULT_SETTLE_MS
  for (let i = 0; i < nodes.length; i++) {
    if (await cycle(nodes[i]!, o.restart, 'restarting on the new release')) {
      // After the last node too: a rollout that follows at once (a rollback) must find every node live.
      if (settleMs > 0) await sleep(settleMs)
      continue
    }
    const failed = label(nodes[i]!)
    if (!o.rollback) throw new RolloutError(`rollout stopped: ${failed} was not ready within ${readyTimeoutMs} ms (no rollback command given)`)
    log(`${failed}: not ready within ${readyTimeoutMs} ms; rolling back ${i + 1} node(s)`)
    for (let j = i; j >= 0; j--) {
      if (!(await cycle(nodes[j]!, o.rollback, 'rolling back to the previous release'))) {
        throw new RolloutError(`rollout failed at ${failed}, and rollback failed at ${label(nodes[j]!)} (not ready)`)
      }
    }
    throw new RolloutError(`rollout stopped: ${failed} was not ready within ${readyTimeoutMs} ms; ${i + 1} node(s) rolled back to the previous release`)
  }
}
