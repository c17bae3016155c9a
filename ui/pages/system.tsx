import { useEffect, useState } from 'preact/hooks'
import { errorMessage, pb } from '../api.ts'
import { Spinner } from '../components/ui.tsx'
import { t } from '../i18n.ts'
import { type Sample, parseMetrics, sum } from '../metrics.ts'

interface SqlInstance { engine: string; role: string; up: boolean; lagMs: number | null }
interface Overview {
  health: Record<string, unknown>
  metrics: Sample[]
  jobs: { queue: string; counts: Record<string, Record<string, number>>; paused: string[] } | undefined
  crons: { id: string; expression: string }[]
}

/** `/api/metrics` is Prometheus text, not JSON: read through the SDK (its auth header and base URL), keeping the body as text. */
async function metricsText(): Promise<string> {
  let text = ''
  await pb.send('/api/metrics', {
    fetch: async (url: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetch(url, init)
      text = await res.clone().text()
      return res
    },
  }).catch(() => undefined)
  return text
}

async function load(): Promise<Overview> {
  const [health, metrics, jobs, crons] = await Promise.all([
    pb.health.check(),
    metricsText(),
    pb.send('/api/jobs', {}).catch(() => undefined),
    pb.send('/api/crons', {}).catch(() => []),
  ])
  return { health: (health.data ?? {}) as Record<string, unknown>, metrics: parseMetrics(metrics), jobs, crons: crons as Overview['crons'] }
}

function Stat(props: { label: string; value: string | number; state?: 'ok' | 'bad' }) {
  return (
    <div class={'stat' + (props.state ? ' ' + props.state : '')}>
      <span class="value">{props.value}</span>
      <span class="label">{props.label}</span>
    </div>
  )
}

const mb = (bytes: number) => `${Math.round(bytes / 1048576)} MB`
function duration(s: number): string {
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m`
}

/**
 * What is running: the API, each SQL instance with its role and replica lag, shared services
 * (Redis), realtime clients, memory, the job queue's depth per job and the cron schedules.
 * Refreshed every 10 seconds while open.
 */
export function SystemPage() {
  const [data, setData] = useState<Overview>()
  const [problem, setProblem] = useState('')
  useEffect(() => {
    const tick = () => load().then(setData, (err: unknown) => setProblem(errorMessage(err)))
    void tick()
    const timer = setInterval(tick, 10_000)
    return () => clearInterval(timer)
  }, [])
  if (!data) return problem ? <p class="error">{problem}</p> : <Spinner />

  const sql = (data.health.sql as SqlInstance[] | undefined) ?? []
  const services = Object.entries(data.health).filter(([, v]) => v === 'ok' || v === 'unreachable') as [string, string][]
  const started = sum(data.metrics, 'plinth_process_start_time_seconds')
  const queued = Object.values(data.jobs?.counts ?? {}).reduce((n, c) => n + (c.waiting ?? 0) + (c.delayed ?? 0), 0)
  const failed = Object.values(data.jobs?.counts ?? {}).reduce((n, c) => n + (c.failed ?? 0), 0)

  return (
    <div class="system">
      <header class="page-head"><h1>{t('System')}</h1></header>
      <div class="stats">
        <Stat label={t('API')} value={t('healthy')} state="ok" />
        <Stat label={t('Uptime')} value={started ? duration(Date.now() / 1000 - started) : '—'} />
        <Stat label={t('Memory (RSS)')} value={mb(sum(data.metrics, 'plinth_process_resident_memory_bytes'))} />
        <Stat label={t('Realtime clients')} value={sum(data.metrics, 'plinth_realtime_clients')} />
        <Stat label={t('Requests served')} value={sum(data.metrics, 'plinth_http_requests_total')} />
        <Stat label={t('Jobs waiting')} value={queued} />
        <Stat label={t('Failed jobs')} value={failed} state={failed ? 'bad' : 'ok'} />
      </div>
      <section class="card">
        <h2>{t('Database')}</h2>
        <div class="table-wrap">
          <table>
            <thead><tr><th>{t('Engine')}</th><th>{t('Role')}</th><th>{t('State')}</th><th>{t('Replica lag')}</th><th>{t('Connections')}</th></tr></thead>
            <tbody>
              {sql.map((s) => (
                <tr>
                  <td>{s.engine}</td>
                  <td><span class="badge">{s.role}</span></td>
                  <td class={s.up ? 'ok' : 'bad'}>{s.up ? t('up') : t('down')}</td>
                  <td>{s.role === 'primary' ? '—' : s.lagMs === null ? t('unknown') : `${s.lagMs} ms`}</td>
                  <td>{sum(data.metrics, 'plinth_sql_pool_connections', { role: s.role, state: 'total', engine: s.engine })}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      {services.length > 0 && (
        <section class="card">
          <h2>{t('Shared services')}</h2>
          <div class="stats">{services.map(([name, state]) => <Stat label={name} value={state === 'ok' ? t('up') : t('down')} state={state === 'ok' ? 'ok' : 'bad'} />)}</div>
        </section>
      )}
      {data.jobs && (
        <section class="card">
          <h2>{t('Jobs')} <span class="badge">{data.jobs.queue}</span></h2>
          <div class="table-wrap">
            <table>
              <thead><tr><th>{t('Job')}</th><th>{t('waiting')}</th><th>{t('active')}</th><th>{t('delayed')}</th><th>{t('failed')}</th><th>{t('completed')}</th></tr></thead>
              <tbody>
                {Object.entries(data.jobs.counts).map(([name, c]) => (
                  <tr>
                    <td>{name}{data.jobs!.paused.includes(name) && <span class="badge"> {t('paused')}</span>}</td>
                    <td>{c.waiting ?? 0}</td><td>{c.active ?? 0}</td><td>{c.delayed ?? 0}</td><td class={c.failed ? 'bad' : ''}>{c.failed ?? 0}</td><td>{c.completed ?? 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {data.crons.length > 0 && (
            <>
              <h3>{t('Cron schedules')}</h3>
              <ul class="plain">{data.crons.map((c) => <li><code>{c.expression}</code> {c.id}</li>)}</ul>
            </>
          )}
        </section>
      )}
    </div>
  )
}
