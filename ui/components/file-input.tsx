import { useEffect, useState } from 'preact/hooks'
import { pb } from '../api.ts'
import { t } from '../i18n.ts'
import type { Field, Rec } from '../types.ts'

/** A file field's state while editing: the stored names kept, and files chosen to add. */
export interface FileDraft {
  keep: string[]
  added: File[]
}

const IMAGE = /\.(png|jpe?g|gif|webp|svg|avif)$/i

/** A preview of a file not uploaded yet (an object URL, released when it goes). */
function NewFile(props: { file: File; onRemove: () => void }) {
  const [url, setUrl] = useState('')
  useEffect(() => {
    if (!props.file.type.startsWith('image/')) return
    const u = URL.createObjectURL(props.file)
    setUrl(u)
    return () => URL.revokeObjectURL(u)
  }, [props.file])
  return (
    <figure class="file new">
      {url ? <img src={url} alt={props.file.name} /> : <span class="doc">{props.file.name.split('.').pop()}</span>}
      <figcaption>{props.file.name}</figcaption>
      <button type="button" class="icon danger" aria-label={t('Remove')} onClick={props.onRemove}>×</button>
    </figure>
  )
}

/** Stored files (with image previews; protected ones through a file token) and new ones to upload. */
export function FileInput(props: { field: Field; record: Rec | undefined; draft: FileDraft; onChange: (d: FileDraft) => void }) {
  const { field, record, draft } = props
  const [token, setToken] = useState('')
  const max = Number(field.maxSelect ?? 1) || 1
  useEffect(() => {
    if (field.protected && record) pb.files.getToken().then(setToken, () => undefined)
  }, [field.protected, record?.id])
  const stored = record ? (Array.isArray(record[field.name]) ? (record[field.name] as string[]) : record[field.name] ? [String(record[field.name])] : []) : []

  const add = (list: FileList | null) => {
    if (!list) return
    const files = [...list]
    // A single-file field replaces what it had; a multi-file one adds up to maxSelect.
    if (max === 1) props.onChange({ keep: [], added: files.slice(0, 1) })
    else props.onChange({ ...draft, added: [...draft.added, ...files].slice(0, Math.max(0, max - draft.keep.length)) })
  }

  return (
    <div class="file-input" data-file={field.name}>
      <div class="files">
        {stored.filter((n) => draft.keep.includes(n)).map((n) => {
          const url = record ? pb.files.getURL(record, n, token ? { token } : {}) : ''
          return (
            <figure class="file">
              {IMAGE.test(n) ? <img src={record ? pb.files.getURL(record, n, { thumb: '100x100', ...(token ? { token } : {}) }) : ''} alt={n} /> : <span class="doc">{n.split('.').pop()}</span>}
              <figcaption><a href={url} target="_blank" rel="noreferrer">{n}</a></figcaption>
              <button type="button" class="icon danger" aria-label={t('Remove')} onClick={() => props.onChange({ ...draft, keep: draft.keep.filter((x) => x !== n) })}>×</button>
            </figure>
          )
        })}
        {draft.added.map((f, i) => <NewFile file={f} onRemove={() => props.onChange({ ...draft, added: draft.added.filter((_, j) => j !== i) })} />)}
      </div>
      <input type="file" name={field.name} multiple={max > 1} accept={((field.mimeTypes as string[] | undefined) ?? []).join(',') || undefined} onChange={(e) => { add(e.currentTarget.files); e.currentTarget.value = '' }} />
    </div>
  )
}

/** The body keys a file field's changes become: `name` (single), `name+` and `name-` (multiple), PocketBase's modifiers. */
export function fileChanges(field: Field, stored: string[], draft: FileDraft): Record<string, unknown> {
  const removed = stored.filter((n) => !draft.keep.includes(n))
  const max = Number(field.maxSelect ?? 1) || 1
  if (max === 1) {
    if (draft.added[0]) return { [field.name]: draft.added[0] }
    return removed.length ? { [field.name]: '' } : {}
  }
  const out: Record<string, unknown> = {}
  if (removed.length) out[`${field.name}-`] = removed
  if (draft.added.length) out[`${field.name}+`] = draft.added
  return out
}
