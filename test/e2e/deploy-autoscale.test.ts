/**
 * Scaling by load: three node slots behind the generated nginx (one PostgreSQL), one node running.
 * A ramp of autocannon load makes the autoscaler (src/deploy/autoscale.ts, reading each node's own
 * /api/metrics) start nodes up to the maximum; once the load stops it stops them down to the
 * minimum (each draining first). A light loop of reads (GET and HEAD) runs throughout, and neither it
 * nor the load sees a failed request.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { Autoscaler, httpSample, parseLoad } from '../../src/deploy/autoscale.ts'
import type { NginxNode } from '../../src/deploy/nginx.ts'
import { defaults } from '../../src/config/schema.ts'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { nginxSkip } from '../helpers/nginx.ts'
import { startNginxCluster } from '../helpers/nginx-cluster.ts'
import { redisSkip, unusedPort } from '../helpers/redis.ts'
import { assertNone, load, repeat } from '../helpers/cannon.ts'


const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip()) || nginxSkip()

test('parseLoad reads CPU seconds and the event-loop p99 from Prometheus text', () => {
  const text = [
    '# TYPE plinth_process_cpu_seconds_total counter',
    'plinth_process_cpu_seconds_total 12.5',
    'plinth_nodejs_eventloop_lag_p99_seconds 0.025',
    'plinth_http_requests_total{method="GET",route="/api/health",status="200"} 40',
    'plinth_http_requests_total{method="POST",route="/api/batch",status="400"} 2',
  ].join('\n')
  assert.deepEqual(parseLoad(text), { cpuSeconds: 12.5, lagP99Ms: 25, requests: 42 })
  assert.equal(parseLoad('nothing here'), undefined)
})

describe('autoscale behind the generated nginx', { skip, timeout: 280_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('a load ramp scales up to the maximum, its end back down to the minimum, with no failed request', async () => {
    const { env: base, cwd } = await clusterSetup(cleanup, 'plinth-autoscale')
    const env = { ...base, PLINTH_RATE_LIMITS_ENABLED: 'false', PLINTH_TRUST_PROXY: '127.0.0.1', PLINTH_TRUSTED_PROXY_HEADERS: 'X-Real-IP', PLINTH_SHUTDOWN_DRAIN: '5000', PLINTH_METRICS_ALLOW: '127.0.0.1' }
    const slots: NginxNode[] = []
    for (let i = 0; i < 3; i++) slots.push({ host: '127.0.0.1', port: await unusedPort() })
    const procs = new Map<number, ServeProcess>()
    const stopNode = async (port: number) => {
      const p = procs.get(port)
      procs.delete(port)
      p?.child.kill('SIGTERM')
      await p?.exited
    }
    cleanup.push(async () => {
      for (const port of [...procs.keys()]) await stopNode(port)
    })
    const edge = await startNginxCluster(slots, defaults(cwd), 2)
    cleanup.push(() => edge.stop())

    const lines: string[] = []
    const looks: string[] = []
    let peak = 0
    const scaler = new Autoscaler({
      slots,
      min: 1,
      max: 3,
      async start(slot) {
        procs.set(slot.port, await startServe(['--http', `127.0.0.1:${slot.port}`], env, cwd))
      },
      stop: (slot) => stopNode(slot.port),
      intervalMs: 1000,
      cooldownMs: 2000,
      // Requests a second decide here: on a shared 2-core machine a node's CPU share says more
      // about the neighbours than about its load. The light loop is ~20 req/s, the ramp hundreds.
      upCpu: 10,
      downCpu: 10,
      upLagMs: 60_000,
      upRps: 120,
      downRps: 60,
      async sample(slot) {
        const s = await httpSample(slot)
        looks.push(`${slot.port}: ${JSON.stringify(s)}`)
        return s
      },
      log: (l) => lines.push(`${new Date().toISOString()} ${l}`),
    })
    const running = scaler.run()
    cleanup.push(async () => {
      scaler.stop()
      await running.catch(() => undefined)
    })
    const until = async (what: string, ok: () => boolean, boundMs: number) => {
      const end = Date.now() + boundMs
      while (!ok()) {
        if (Date.now() > end) throw new Error(`${what}: not within ${boundMs / 1000} s\n${lines.join('\n')}\n${looks.slice(-20).join('\n')}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    await until('the minimum node', () => scaler.running.length === 1, 60_000)

    // The light loop: GET and HEAD reads through nginx, one at a time, the whole test long.
    const light = repeat((i) => fetch(`${edge.url}/api/health`, { method: i % 2 ? 'GET' : 'HEAD' }), 50)

    // The ramp: 4, then 32 connections.
    const cannon = load(`${edge.url}/api/health`, 4)
    await new Promise((r) => setTimeout(r, 2000))
    const cannon2 = load(`${edge.url}/api/health`, 28)
    await until('scaling up to 3 nodes', () => (peak = Math.max(peak, scaler.running.length)) === 3, 120_000)
    const r1 = await cannon.stop()
    const r2 = await cannon2.stop()
    await until('scaling down to 1 node', () => scaler.running.length === 1, 120_000)
    const lightResult = await light.stop()
    assert.equal(procs.size, 1, 'the stopped nodes exited')
    for (const r of [r1, r2]) assertNone('autoscale load', r.non2xx + r.errors + r.timeouts, r.requests.total, [JSON.stringify(r.statusCodeStats), ...lines].join('\n'))
    assert.ok(lightResult.ok > 20, `the light loop ran: ${lightResult.ok}`)
    assert.deepEqual(lightResult.failed, [], lines.join('\n'))
    assert.ok(lines.some((l) => / up: starting /.test(l)) && lines.some((l) => / down: stopping /.test(l)), lines.join('\n'))
  })
})
