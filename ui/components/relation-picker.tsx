import { useEffect, useState } from 'preact/hooks'
import { pb } from '../api.ts'
import { t } from '../i18n.ts'
import { collectionById } from '../store.ts'
import type { Field, Rec } from '../types.ts'

/** A record's label in a picker: its presentable fields, else its id. */
function label(r: Rec, fields: Field[]): string {
  const shown = fields.filter((f) => f.presentable).map((f) => r[f.name]).filter((x) => x !== '' && x !== null && x !== undefined)
  return shown.length ? `${shown.join(' · ')} (${r.id})` : r.id
}

/**
 * Chooses related records: the chosen ones as chips, a search over the related collection (by
 * id or any text field) to add more, up to the field's maxSelect.
 */
export function RelationPicker(props: { field: Field; value: unknown; onChange: (v: unknown) => void }) {
  const target = collectionById(String(props.field.collectionId ?? ''))
  const multi = Number(props.field.maxSelect ?? 1) > 1
  const chosen = Array.isArray(props.value) ? (props.value as string[]) : props.value ? [String(props.value)] : []
  const [search, setSearch] = useState('')
  const [options, setOptions] = useState<Rec[]>([])
  const [open, setOpen] = useState(false)

  useEffect(() => {
    if (!open || !target) return
    const texts = target.fields.filter((f) => ['text', 'email', 'url'].includes(f.type) && !f.hidden).map((f) => f.name)
    const q = search.replace(/["\\]/g, '')
    const filter = q ? texts.map((n) => `${n} ~ "${q}"`).join(' || ') : ''
    const timer = setTimeout(() => {
      pb.collection(target.name).getList<Rec>(1, 20, { filter, skipTotal: true }).then((r) => setOptions(r.items), () => setOptions([]))
    }, 200)
    return () => clearTimeout(timer)
  }, [open, search, target?.name])

  if (!target) return <p class="error">{t('The related collection is missing.')}</p>
  const set = (ids: string[]) => props.onChange(multi ? ids : (ids[ids.length - 1] ?? ''))
  const max = Number(props.field.maxSelect ?? 1) || 1

  return (
    <div class="relation-picker" data-relation={props.field.name}>
      <div class="chips">
        {chosen.map((id) => (
          <span class="chip">{id} <button type="button" class="icon" aria-label={t('Remove')} onClick={() => set(chosen.filter((x) => x !== id))}>×</button></span>
        ))}
        <button type="button" class="small" onClick={() => setOpen(!open)}>{open ? t('Done') : `+ ${t('Choose from {name}', { name: target.name })}`}</button>
      </div>
      {open && (
        <div class="picker">
          <input type="search" name={`${props.field.name}.search`} placeholder={t('Search')} value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
          <ul>
            {options.map((r) => (
              <li>
                <label class="check small">
                  <input
                    type={multi ? 'checkbox' : 'radio'}
                    checked={chosen.includes(r.id)}
                    disabled={multi && !chosen.includes(r.id) && chosen.length >= max}
                    onChange={(e) => set(e.currentTarget.checked ? (multi ? [...chosen, r.id] : [r.id]) : chosen.filter((x) => x !== r.id))}
                  />
                  {label(r, target.fields)}
                </label>
              </li>
            ))}
            {options.length === 0 && <li class="muted">{t('No records found.')}</li>}
          </ul>
        </div>
      )}
    </div>
  )
}
