import { pb } from '../api.ts'
import { formatDate } from '../i18n.ts'
import type { Field, Rec } from '../types.ts'

const IMAGE = /\.(png|jpe?g|gif|webp|svg|avif)$/i

/** One table cell: a short, typed view of a record's value (thumbs for images, ticks for booleans). */
export function RecordCell(props: { record: Rec; field: Field }) {
  const { record, field } = props
  const v = record[field.name]
  if (v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) return <span class="muted">—</span>
  switch (field.type) {
    case 'bool':
      return <span class={v ? 'ok' : 'muted'}>{v ? '✓' : '✗'}</span>
    case 'date':
    case 'autodate':
      return <span class="nowrap">{formatDate(String(v))}</span>
    case 'file': {
      const names = Array.isArray(v) ? (v as string[]) : [String(v)]
      return (
        <span class="files">
          {names.slice(0, 3).map((n) =>
            IMAGE.test(n) && !field.protected ? <img class="thumb" loading="lazy" alt={n} src={pb.files.getURL(record, n, { thumb: '100x100' })} /> : <span class="chip">{n}</span>,
          )}
          {names.length > 3 && <span class="chip">+{names.length - 3}</span>}
        </span>
      )
    }
    case 'relation':
    case 'select': {
      const list = Array.isArray(v) ? (v as string[]) : [String(v)]
      return <span class="chips">{list.map((x) => <span class="chip">{x}</span>)}</span>
    }
    case 'json':
    case 'geoPoint':
      return <code class="clip">{JSON.stringify(v)}</code>
    case 'editor':
      return <span class="clip">{String(v).replace(/<[^>]*>/g, ' ').slice(0, 120)}</span>
    default:
      return <span class="clip">{String(v)}</span>
  }
}
