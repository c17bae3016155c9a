import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { errorMessage, pb } from '../api.ts'
import { RecordCell } from '../components/record-cell.tsx'
import { RuleInput, ruleWords } from '../components/rule-input.tsx'
import { toast } from '../components/ui.tsx'
import { t } from '../i18n.ts'
import { useCollections } from '../store.ts'
import type { Collection, Rec } from '../types.ts'
import { RecordEditor } from './record-editor.tsx'

const PER_PAGE = [20, 50, 100, 500]

/** Which columns to show: the first fields by default (following edits of the collection), or the choice made here, remembered per collection. */
function useColumns(c: Collection): [string[], (cols: string[]) => void] {
  const key = `plinth_admin_columns_${c.id}`
  const all = c.fields.filter((f) => !f.hidden || f.system).map((f) => f.name)
  const [saved, setSaved] = useState<string[] | null>(() => {
    try {
      return JSON.parse(localStorage.getItem(key) ?? 'null') as string[] | null
    } catch {
      return null
    }
  })
  const cols = saved?.filter((n) => all.includes(n)) ?? all.filter((n) => !['password', 'tokenKey'].includes(n)).slice(0, 8)
  return [cols, (next) => { localStorage.setItem(key, JSON.stringify(next)); setSaved(next) }]
}

/**
 * A collection's records: a filter in PocketBase's syntax (checked as you type: the server's
 * error shows under it and the last good rows stay), sort by a column's header, columns to
 * choose, pages, bulk delete, and an editor per record. Realtime events re-read the page.
 */
export function RecordsView(props: { collection: Collection; onEdit: () => void }) {
  const c = props.collection
  const collections = useCollections() ?? []
  const hasCreated = c.fields.some((f) => f.name === 'created')
  const [filter, setFilter] = useState('')
  const [sort, setSort] = useState(hasCreated ? '-created' : '')
  const [page, setPage] = useState(1)
  const [perPage, setPerPage] = useState(20)
  const [data, setData] = useState<{ items: Rec[]; totalItems: number; totalPages: number }>()
  const [problem, setProblem] = useState('')
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [editing, setEditing] = useState<Rec | 'new' | undefined>()
  const [columns, setColumns] = useColumns(c)
  const [pickCols, setPickCols] = useState(false)
  const [tick, setTick] = useState(0)
  const words = useMemo(() => ruleWords(c.fields, collections, []), [c, collections])
  const latest = useRef(0)

  useEffect(() => {
    const n = ++latest.current
    const timer = setTimeout(async () => {
      try {
        const res = await pb.collection(c.name).getList<Rec>(page, perPage, { filter, sort })
        if (n !== latest.current) return
        setData(res)
        setProblem('')
      } catch (err) {
        if (n === latest.current) setProblem(errorMessage(err))
      }
    }, filter ? 300 : 0)
    return () => clearTimeout(timer)
  }, [c.name, filter, sort, page, perPage, tick])

  // Live updates: any change in this collection re-reads the page shown.
  useEffect(() => {
    if (c.type === 'view') return
    let stop: (() => Promise<void>) | undefined
    let pending: ReturnType<typeof setTimeout> | undefined
    pb.collection(c.name).subscribe('*', () => {
      clearTimeout(pending)
      pending = setTimeout(() => setTick((x) => x + 1), 150)
    }).then((unsub) => (stop = unsub), () => undefined)
    return () => {
      clearTimeout(pending)
      void stop?.()
    }
  }, [c.name])

  const sortBy = (name: string) => {
    setSort(sort === name ? `-${name}` : sort === `-${name}` ? '' : name)
    setPage(1)
  }
  const toggle = (id: string) => {
    const next = new Set(selected)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    setSelected(next)
  }
  const bulkDelete = async () => {
    if (!confirm(t('Delete {n} records?', { n: selected.size }))) return
    const ids = [...selected]
    const results = await Promise.allSettled(ids.map((id) => pb.collection(c.name).delete(id)))
    const failed = results.filter((r) => r.status === 'rejected').length
    if (failed) toast(t('{n} could not be deleted.', { n: failed }), 'error')
    else toast(t('Deleted {n} records.', { n: ids.length }))
    setSelected(new Set())
    setTick(tick + 1)
  }

  const items = data?.items ?? []
  const allChecked = items.length > 0 && items.every((r) => selected.has(r.id))
  const shownFields = c.fields.filter((f) => columns.includes(f.name))

  return (
    <div class="records">
      <header class="page-head">
        <h1>{c.name} <span class={'badge type-' + c.type}>{t(c.type)}</span></h1>
        <div class="actions">
          <button type="button" onClick={props.onEdit}>⚙ {t('Edit collection')}</button>
          {c.type !== 'view' && <button type="button" class="primary" onClick={() => setEditing('new')}>+ {t('New record')}</button>}
        </div>
      </header>
      <div class={'filter-bar' + (problem ? ' invalid' : '')}>
        <RuleInput name="filter" rows={1} value={filter} words={words} placeholder={t('Filter, e.g. title ~ "hello" && created > "2024-01-01"')} onInput={(v) => { setFilter(v); setPage(1) }} />
        <button type="button" onClick={() => setPickCols(!pickCols)} aria-expanded={pickCols}>{t('Columns')}</button>
      </div>
      {problem && <small class="error filter-error" role="alert">{problem}</small>}
      {pickCols && (
        <div class="column-picker">
          {c.fields.map((f) => (
            <label class="check small">
              <input type="checkbox" checked={columns.includes(f.name)} onChange={(e) => setColumns(e.currentTarget.checked ? c.fields.map((x) => x.name).filter((n) => n === f.name || columns.includes(n)) : columns.filter((n) => n !== f.name))} /> {f.name}
            </label>
          ))}
        </div>
      )}
      {selected.size > 0 && (
        <div class="bulk-bar">
          <span>{t('{n} selected', { n: selected.size })}</span>
          <button type="button" onClick={() => setSelected(new Set())}>{t('Clear')}</button>
          <button type="button" class="danger" onClick={bulkDelete}>{t('Delete selected')}</button>
        </div>
      )}
      <div class="table-wrap">
        <table class="records-table">
          <thead>
            <tr>
              {c.type !== 'view' && <th class="sel"><input type="checkbox" aria-label={t('Select all')} checked={allChecked} onChange={() => setSelected(allChecked ? new Set() : new Set(items.map((r) => r.id)))} /></th>}
              {shownFields.map((f) => (
                <th class="sortable" onClick={() => sortBy(f.name)} aria-sort={sort === f.name ? 'ascending' : sort === `-${f.name}` ? 'descending' : 'none'}>
                  {f.name} {sort === f.name ? '▲' : sort === `-${f.name}` ? '▼' : ''}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-id={r.id} class={selected.has(r.id) ? 'selected' : ''}>
                {c.type !== 'view' && <td class="sel"><input type="checkbox" aria-label={t('Select')} checked={selected.has(r.id)} onChange={() => toggle(r.id)} /></td>}
                {shownFields.map((f) => <td onClick={() => setEditing(r)}><RecordCell record={r} field={f} /></td>)}
              </tr>
            ))}
            {data && items.length === 0 && <tr><td colSpan={shownFields.length + 1} class="muted empty-row">{t('No records found.')}</td></tr>}
          </tbody>
        </table>
      </div>
      <footer class="pager">
        <span class="muted">{data ? t('{n} records', { n: data.totalItems }) : t('Loading…')}</span>
        <span class="grow" />
        <select aria-label={t('Per page')} value={perPage} onChange={(e) => { setPerPage(Number(e.currentTarget.value)); setPage(1) }}>
          {PER_PAGE.map((n) => <option value={n}>{n}</option>)}
        </select>
        <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)} aria-label={t('Previous page')}>‹</button>
        <span>{page} / {Math.max(1, data?.totalPages ?? 1)}</span>
        <button type="button" disabled={page >= (data?.totalPages ?? 1)} onClick={() => setPage(page + 1)} aria-label={t('Next page')}>›</button>
      </footer>
      {editing && (
        <RecordEditor
          collection={c}
          record={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={() => { setEditing(undefined); setTick(tick + 1) }}
        />
      )}
    </div>
  )
}
