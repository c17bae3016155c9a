import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { SqlEngine, QueryObserver } from './sql/sql.ts'

/**
 * Prometheus metrics for one Plinth instance. Each instance has its own registry, so several
 * apps in one process (tests, embedding) never mix their figures.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly httpRequests = new Counter({
    name: 'plinth_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  })
  readonly httpDuration = new Histogram({
    name: 'plinth_http_request_duration_seconds',
    help: 'HTTP request latency by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })
  readonly sqlDuration = new Histogram({
    name: 'plinth_sql_query_duration_seconds',
    help: 'SQL query time by engine and role.',
    labelNames: ['engine', 'role', 'outcome'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  })
  private readonly engines: SqlEngine[] = []

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'plinth_', eventLoopMonitoringPrecision: 20 })
    const engines = this.engines
    new Gauge({
      name: 'plinth_sql_pool_connections',
      help: 'SQL pool connections by engine, role and state (total, idle, waiting callers).',
      labelNames: ['engine', 'role', 'state'] as const,
      registers: [this.registry],
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
