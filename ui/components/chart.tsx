import { t } from '../i18n.ts'

/**
 * Requests per hour as bars, drawn as SVG (no chart library: a few hundred bytes instead of tens
 * of kilobytes). Hours without requests are filled in as zero so the time axis is even.
 */
export function RequestsChart(props: { stats: { total: number; date: string }[] }) {
  const byHour = new Map(props.stats.map((s) => [Date.parse(s.date.replace(' ', 'T')), s.total]))
  const hours = [...byHour.keys()].sort((a, b) => a - b)
  if (hours.length === 0) return <div class="chart empty muted">{t('No requests in this period.')}</div>
  // At least the last 24 hours, so one busy hour is one bar among others, not the whole chart.
  const hour = 3_600_000
  const now = Math.floor(Date.now() / hour) * hour
  const first = Math.min(hours[0]!, now - 23 * hour)
  const last = Math.max(hours.at(-1)!, now)
  const points: { at: number; total: number }[] = []
  for (let at = first; at <= last && points.length < 24 * 31; at += hour) points.push({ at, total: byHour.get(at) ?? 0 })
  const max = Math.max(1, ...points.map((p) => p.total))
  const W = 800
  const H = 160
  const bw = W / points.length
  const fmt = (at: number) => new Date(at).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit' })
  return (
    <figure class="chart" aria-label={t('Requests per hour')}>
      <svg viewBox={`0 0 ${W} ${H + 20}`} preserveAspectRatio="none" role="img">
        <line x1="0" y1={H} x2={W} y2={H} class="axis" />
        {points.map((p, i) => {
          const h = (p.total / max) * (H - 10)
          // Empty hours keep their place on the axis but draw nothing.
          if (p.total === 0) return null
          return (
            <rect x={i * bw + bw * 0.1} y={H - h} width={Math.max(1, bw * 0.8)} height={h} class="bar">
              <title>{`${fmt(p.at)}: ${p.total}`}</title>
            </rect>
          )
        })}
        <text x="2" y="12" class="label">{max}</text>
        <text x="2" y={H + 16} class="label">{fmt(first)}</text>
        <text x={W - 2} y={H + 16} class="label" text-anchor="end">{fmt(last)}</text>
      </svg>
    </figure>
  )
}
