import { useEffect, useState } from 'preact/hooks'
import { errorMessage, pb } from '../api.ts'
import { RequestsChart } from '../components/chart.tsx'
import { Modal } from '../components/ui.tsx'
import { formatDate, t } from '../i18n.ts'

interface Log {
  id: string
  created: string
  level: number
  message: string
  data: Record<string, unknown>
}

const LEVELS: Record<number, string> = { [-4]: 'DEBUG', 0: 'INFO', 4: 'WARN', 8: 'ERROR' }
const levelName = (l: number) => LEVELS[l] ?? String(l)

/**
 * The request and app logs (`/api/logs`): requests per hour over the filter's logs
 * (`/api/logs/stats`), the list newest first, and each entry's details. The filter is
 * PocketBase's syntax over `level`, `message`, `created` and `data.*` (`data.status >= 400`).
 */
export function LogsPage() {
  const [filter, setFilter] = useState('')
  const [applied, setApplied] = useState('')
  const [page, setPage] = useState(1)
  const [logs, setLogs] = useState<{ items: Log[]; totalPages: number; totalItems: number }>()
  const [stats, setStats] = useState<{ total: number; date: string }[]>([])
  const [problem, setProblem] = useState('')
  const [open, setOpen] = useState<Log>()
  const [tick, setTick] = useState(0)

  useEffect(() => {
    setProblem('')
    Promise.all([
      pb.logs.getList(page, 50, { filter: applied, sort: '-created' }),
      pb.logs.getStats({ filter: applied }),
    ]).then(([list, s]) => {
      setLogs(list as unknown as { items: Log[]; totalPages: number; totalItems: number })
      setStats(s)
    }, (err: unknown) => setProblem(errorMessage(err)))
  }, [applied, page, tick])

  return (
    <div class="logs">
      <header class="page-head">
        <h1>{t('Logs')}</h1>
        <button type="button" onClick={() => setTick(tick + 1)}>↻ {t('Refresh')}</button>
      </header>
      <form class="filter-bar" onSubmit={(e) => { e.preventDefault(); setPage(1); setApplied(filter) }}>
        <input type="search" name="filter" placeholder={t('Filter, e.g. data.status >= 400 || level > 0')} value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        <button type="submit">{t('Apply')}</button>
      </form>
      {problem && <p class="error" role="alert">{problem}</p>}
      <RequestsChart stats={stats} />
      <div class="table-wrap">
        <table class="logs-table">
          <thead><tr><th>{t('Level')}</th><th>{t('Message')}</th><th>{t('Status')}</th><th>{t('Created')}</th></tr></thead>
          <tbody>
            {logs?.items.map((l) => (
              <tr onClick={() => setOpen(l)} data-id={l.id}>
                <td><span class={'badge level-' + levelName(l.level).toLowerCase()}>{levelName(l.level)}</span></td>
                <td><span class="clip">{l.data.method ? `${String(l.data.method)} ${String(l.data.url ?? '')}` : l.message}</span></td>
                <td>{String(l.data.status ?? '')}</td>
                <td class="nowrap">{formatDate(l.created)}</td>
              </tr>
            ))}
            {logs && logs.items.length === 0 && <tr><td colSpan={4} class="muted empty-row">{t('No logs found.')}</td></tr>}
          </tbody>
        </table>
      </div>
      <footer class="pager">
        <span class="muted">{logs ? t('{n} entries', { n: logs.totalItems }) : ''}</span>
        <span class="grow" />
        <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)} aria-label={t('Previous page')}>‹</button>
        <span>{page} / {Math.max(1, logs?.totalPages ?? 1)}</span>
        <button type="button" disabled={page >= (logs?.totalPages ?? 1)} onClick={() => setPage(page + 1)} aria-label={t('Next page')}>›</button>
      </footer>
      {open && (
        <Modal title={t('Log entry')} onClose={() => setOpen(undefined)} wide>
          <dl class="details">
            <dt>id</dt><dd>{open.id}</dd>
            <dt>{t('Created')}</dt><dd>{formatDate(open.created)}</dd>
            <dt>{t('Level')}</dt><dd>{levelName(open.level)}</dd>
            <dt>{t('Message')}</dt><dd>{open.message}</dd>
          </dl>
          <pre class="code">{JSON.stringify(open.data, null, 2)}</pre>
        </Modal>
      )}
    </div>
  )
}
