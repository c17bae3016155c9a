/**
 * Scaling by load on a team's own hosts (`plinth deploy autoscale`). nginx's upstream lists every
 * slot a node may run in (`plinth deploy nginx --nodes` with the whole pool); the autoscaler starts
 * and stops nodes in those slots, between `min` and `max`, from the nodes' own metrics:
 *
 * - CPU: the share of one core each node used since the last look (`process_cpu_seconds_total`);
 * - event-loop delay: p99 over the last look (`nodejs_eventloop_lag_p99_seconds`);
 * - requests a second each node answered since the last look (`http_requests_total`).
 *
 * Up when the average over running nodes passes `upCpu`, `upLagMs` or `upRps` (0: not used) at two
 * looks in a row; down when it stays under `downCpu`, `downRps` and half of `upLagMs` for three;
 * never twice within `cooldownMs`.
 * A stopped node drains itself (`shutdownDrain`), and a slot with no node is skipped by nginx's
 * passive health check (a refused connection is retried on another node, nothing having been sent),
 * so nginx is never reloaded: a reload closes clients' idle keep-alive connections, which races
 * their next request.
 */
import type { NginxNode } from './nginx.ts'
import { waitReady } from './rollout.ts'

export interface NodeLoad {
  /** process_cpu_seconds_total */
  cpuSeconds: number
  /** nodejs_eventloop_lag_p99_seconds, in ms */
  lagP99Ms: number
  /** http_requests_total, every route and status */
  requests: number
}

export interface AutoscaleOptions {
  /** Every place a node may run, in the order they are filled. */
  slots: NginxNode[]
  min: number
  max: number
  /** Starts a node in `slot` (resolves once started; readiness is polled after). */
  start(slot: NginxNode): Promise<void>
  /** Stops the node in `slot` (SIGTERM: it drains, then exits). */
  stop(slot: NginxNode): Promise<void>
  /** One look at a node's load (default: GET /api/metrics; the node's `metrics.allow` must list this host). */
  sample?(slot: NginxNode): Promise<NodeLoad | undefined>
  intervalMs?: number
  cooldownMs?: number
  upCpu?: number
  downCpu?: number
  upLagMs?: number
  /** Requests a second per node that count as busy (0: requests are not a signal). */
  upRps?: number
  downRps?: number
  readyTimeoutMs?: number
  log?(line: string): void
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Reads the two figures from Prometheus text. */
export function parseLoad(text: string): NodeLoad | undefined {
  const value = (name: string) => {
    const m = new RegExp(`^(?:\\w+_)?${name} ([0-9.eE+-]+)$`, 'm').exec(text)
    return m ? Number(m[1]) : undefined
  }
  const cpu = value('process_cpu_seconds_total')
  const lag = value('nodejs_eventloop_lag_p99_seconds')
  let requests = 0
  for (const m of text.matchAll(/^(?:\w+_)?http_requests_total(?:\{[^}\n]*\})? ([0-9.eE+-]+)$/gm)) requests += Number(m[1])
  return cpu === undefined ? undefined : { cpuSeconds: cpu, lagP99Ms: (lag ?? 0) * 1000, requests }
}

export async function httpSample(slot: NginxNode): Promise<NodeLoad | undefined> {
  try {
    const res = await fetch(`http://${slot.host}:${slot.port}/api/metrics`, { signal: AbortSignal.timeout(2000) })
    const text = await res.text()
    return res.status === 200 ? parseLoad(text) : undefined
  } catch {
    return undefined
  }
}

export class Autoscaler {
  readonly #o: Required<Omit<AutoscaleOptions, 'log'>> & Pick<AutoscaleOptions, 'log'>
  /** Slots with a running node, in the order they were started. */
  readonly running: NginxNode[] = []
  #stopped = false
  #last = new Map<string, { at: number; cpu: number; requests: number }>()

  constructor(o: AutoscaleOptions) {
    if (o.min < 1 || o.max < o.min || o.max > o.slots.length) throw new Error(`autoscale: need 1 <= min (${o.min}) <= max (${o.max}) <= slots (${o.slots.length})`)
    this.#o = { sample: httpSample, intervalMs: 2000, cooldownMs: 30_000, upCpu: 0.75, downCpu: 0.25, upLagMs: 100, upRps: 0, downRps: 0, readyTimeoutMs: 60_000, ...o }
  }

  /** Slots in use at start (already running nodes the caller knows of). */
  adopt(slots: NginxNode[]): void {
    for (const s of slots) if (!this.running.includes(s)) this.running.push(s)
  }

  /** Watches and scales until `stop()`. */
  async run(): Promise<void> {
    const o = this.#o
    while (this.running.length < o.min) {
      if (!(await this.#up('below the minimum'))) throw new Error('autoscale: a node to reach the minimum did not get ready')
    }
    let hot = 0
    let cold = 0
    let lastChange = Date.now()
    while (!this.#stopped) {
      await sleep(o.intervalMs)
      if (this.#stopped) break
      const load = await this.#look()
      if (!load) continue
      const now = Date.now()
      const busy = o.upRps > 0 && load.rps > o.upRps
      const idle = o.upRps === 0 || load.rps < o.downRps
      hot = load.cpu > o.upCpu || load.lagMs > o.upLagMs || busy ? hot + 1 : 0
      cold = load.cpu < o.downCpu && load.lagMs < o.upLagMs / 2 && idle ? cold + 1 : 0
      const calm = now - lastChange >= o.cooldownMs
      const figures = `cpu ${load.cpu.toFixed(2)}, lag p99 ${load.lagMs.toFixed(0)} ms, ${load.rps.toFixed(0)} req/s over ${this.running.length} node(s)`
      if (hot >= 2 && calm && this.running.length < o.max) {
        await this.#up(figures)
        lastChange = Date.now()
        hot = 0
      } else if (cold >= 3 && calm && this.running.length > o.min) {
        await this.#down(figures)
        lastChange = Date.now()
        cold = 0
      }
    }
  }

  stop(): void {
    this.#stopped = true
  }

  /** Average CPU share and lag over the running nodes, from the change since the last look. */
  async #look(): Promise<{ cpu: number; lagMs: number; rps: number } | undefined> {
    const figures = await Promise.all(
      this.running.map(async (slot) => {
        const key = `${slot.host}:${slot.port}`
        const s = await this.#o.sample(slot)
        if (!s) return undefined
        const now = Date.now()
        const before = this.#last.get(key)
        this.#last.set(key, { at: now, cpu: s.cpuSeconds, requests: s.requests })
        if (!before || s.cpuSeconds < before.cpu) return undefined
        const sec = (now - before.at) / 1000
        return { cpu: (s.cpuSeconds - before.cpu) / sec, lagMs: s.lagP99Ms, rps: Math.max(0, s.requests - before.requests) / sec }
      }),
    )
    const seen = figures.filter((f): f is { cpu: number; lagMs: number; rps: number } => !!f)
    if (seen.length === 0) return undefined
    const avg = (k: 'cpu' | 'lagMs' | 'rps') => seen.reduce((a, f) => a + f[k], 0) / seen.length
    return { cpu: avg('cpu'), lagMs: avg('lagMs'), rps: avg('rps') }
  }

  async #up(why: string): Promise<boolean> {
    const slot = this.#o.slots.find((s) => !this.running.includes(s))!
    this.#o.log?.(`up: starting ${slot.host}:${slot.port} (${why})`)
    await this.#o.start(slot)
    if (!(await waitReady(slot, this.#o.readyTimeoutMs))) {
      this.#o.log?.(`up: ${slot.host}:${slot.port} not ready within ${this.#o.readyTimeoutMs} ms; stopping it`)
      await this.#o.stop(slot).catch(() => undefined)
      return false
    }
    this.running.push(slot)
    this.#last.delete(`${slot.host}:${slot.port}`)
    return true
  }

  async #down(why: string): Promise<void> {
    const slot = this.running.pop()!
    this.#o.log?.(`down: stopping ${slot.host}:${slot.port} (${why})`)
    this.#last.delete(`${slot.host}:${slot.port}`)
    await this.#o.stop(slot)
  }
}
