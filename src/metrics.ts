import { createRequire } from 'node:module'
import type * as PromClient from 'prom-client'
import type { SqlEngine, QueryObserver } from './sql/sql.ts'

// prom-client's entry module also loads its default metrics, and with them @opentelemetry/api:
// ~45 ms of CPU at every start. The metric classes come from their own files instead, and the
// default metrics load when first needed (see Metrics.registry).
const require = createRequire(import.meta.url)
const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry
const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter
const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge
const Histogram = require('prom-client/lib/histogram') as typeof PromClient.Histogram

/**
 * Prometheus metrics for one Plinth instance. Each instance has its own registry, so several
 * apps in one process (tests, embedding) never mix their figures.
 */
export class Metrics {
  private readonly metricsRegistry = new Registry()
  private defaultsCollected = false
  readonly httpRequests = new Counter({
    name: 'plinth_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.metricsRegistry],
  })
  readonly httpDuration = new Histogram({
    name: 'plinth_http_request_duration_seconds',
    help: 'HTTP request latency by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.metricsRegistry],
  })
  readonly sqlDuration = new Histogram({
    name: 'plinth_sql_query_duration_seconds',
    help: 'SQL query time by engine and role.',
    labelNames: ['engine', 'role', 'outcome'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [this.metricsRegistry],
  })
  readonly realtimeClients = new Gauge({
    name: 'plinth_realtime_clients',
    help: 'Realtime (SSE) streams open on this node.',
    registers: [this.metricsRegistry],
  })
  readonly realtimeEvents = new Counter({
    name: 'plinth_realtime_events_sent_total',
    help: 'Realtime events written to streams on this node (PB_CONNECT included).',
    registers: [this.metricsRegistry],
  })
  readonly realtimeDropped = new Counter({
    name: 'plinth_realtime_clients_dropped_total',
    help: 'Realtime streams cut because the client fell behind (its send queue passed the bound).',
    registers: [this.metricsRegistry],
  })
  private readonly engines: SqlEngine[] = []
  /** The labelled request series, looked up once per method, route and status (prom-client hashes the labels on every call otherwise). */
  private readonly requestSeries = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>()

  constructor() {
    // Off the start-up path: a second after creation, or at the first scrape if that comes sooner.
    setTimeout(() => this.collectDefaults(), 1000).unref()
    const engines = this.engines
    new Gauge({
      name: 'plinth_sql_pool_connections',
      help: 'SQL pool connections by engine, role and state (total, idle, waiting callers).',
      labelNames: ['engine', 'role', 'state'] as const,
      registers: [this.metricsRegistry],
      collect() {
        for (const e of engines) {
          const s = e.poolStats()
          this.set({ engine: e.name, role: e.role, state: 'total' }, s.total)
          this.set({ engine: e.name, role: e.role, state: 'idle' }, s.idle)
          this.set({ engine: e.name, role: e.role, state: 'waiting' }, s.waiting)
        }
      },
    })
  }

  /**
   * `plinth_jobs{name, state}`: the jobs of each name in each state, read from the queue at each
   * scrape (`counts`); a queue that cannot answer leaves the gauge empty for that scrape.
   */
  watchJobs(queue: string, counts: () => Promise<Record<string, Record<string, number>>>): void {
    new Gauge({
      name: 'plinth_jobs',
      help: 'Background jobs by queue engine, job name and state (waiting, delayed, active, completed, failed).',
      labelNames: ['queue', 'name', 'state'] as const,
      registers: [this.metricsRegistry],
      async collect() {
        this.reset()
        const all = await counts().catch(() => ({}) as Record<string, Record<string, number>>)
        for (const [name, states] of Object.entries(all)) for (const [state, n] of Object.entries(states)) this.set({ queue, name, state }, n)
      },
    })
  }

  /** `plinth_records_cache_reads_total{result}`: record reads served from the cache (`hit`), read from SQL and stored (`miss`), or not cacheable / cache off (`bypassed`). */
  watchRecordsCache(stats: () => Record<'hits' | 'misses' | 'bypassed', number>): void {
    new Counter({
      name: 'plinth_records_cache_reads_total',
      help: 'Record reads by how the records cache (cacheRecords) served them: hit, miss, bypassed.',
      labelNames: ['result'] as const,
      registers: [this.metricsRegistry],
      collect() {
        const s = stats()
        this.reset()
        this.inc({ result: 'hit' }, s.hits)
        this.inc({ result: 'miss' }, s.misses)
        this.inc({ result: 'bypassed' }, s.bypassed)
      },
    })
  }

  /** The registry to scrape; it holds the process and Node.js default metrics from the first read. */
  get registry(): PromClient.Registry {
    this.collectDefaults()
    return this.metricsRegistry
  }

  /** Process memory, CPU, GC and event-loop figures (prom-client's defaults), registered once. */
  private collectDefaults(): void {
    if (this.defaultsCollected) return
    this.defaultsCollected = true
    const collectDefaultMetrics = require('prom-client/lib/defaultMetrics') as typeof PromClient.collectDefaultMetrics
    collectDefaultMetrics({ register: this.metricsRegistry, prefix: 'plinth_', eventLoopMonitoringPrecision: 20 })
  }

  /**
   * Counts one answered request and its duration. `route` is the matched route template, so ids
   * in URLs do not explode cardinality.
   */
  observeRequest(method: string, route: string, status: number, ms: number): void {
    const key = `${method} ${status} ${route}`
    let s = this.requestSeries.get(key)
    if (!s) {
      s = {
        count: this.httpRequests.labels({ method, route, status: String(status) }),
        time: this.httpDuration.labels({ method, route }),
      }
      this.requestSeries.set(key, s)
    }
    s.count.inc()
    s.time.observe(ms / 1000)
  }

  /** A query observer for an engine about to be opened (its name and role label the figures). */
  sqlObserver(engine: SqlEngine['name'], role: SqlEngine['role']): QueryObserver {
    const ok = this.sqlDuration.labels({ engine, role, outcome: 'ok' })
    const failed = this.sqlDuration.labels({ engine, role, outcome: 'error' })
    return (ms, isError) => (isError ? failed : ok).observe(ms / 1000)
  }

  watchPool(engine: SqlEngine): void {
    this.engines.push(engine)
  }
}
