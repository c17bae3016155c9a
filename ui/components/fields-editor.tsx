import { useState } from 'preact/hooks'
import { t } from '../i18n.ts'
import { FIELD_TYPES, type Collection, type Field as FieldDef } from '../types.ts'
import { FieldOptions } from './field-options.tsx'

/** The defaults a new field of each type starts with (PocketBase's zero values, plus a sensible maxSelect). */
function newField(type: string, name: string): FieldDef {
  const base: FieldDef = { id: '', name, type, system: false, hidden: false, presentable: false, required: false }
  switch (type) {
    case 'select': return { ...base, values: [], maxSelect: 1 }
    case 'relation': return { ...base, collectionId: '', maxSelect: 1, minSelect: 0, cascadeDelete: false }
    case 'file': return { ...base, maxSelect: 1, maxSize: 0, mimeTypes: [], thumbs: [], protected: false }
    case 'autodate': return { ...base, onCreate: true, onUpdate: false }
    default: return base
  }
}

/** The field list of a base or auth collection: one row per field, options unfolded on demand. */
export function FieldsEditor(props: { collection: Collection; errors: Record<string, string>; onChange: (fields: FieldDef[]) => void }) {
  const fields = props.collection.fields
  const [open, setOpen] = useState<number | undefined>()
  const [type, setType] = useState('text')

  const set = (i: number, f: FieldDef) => props.onChange(fields.map((x, j) => (j === i ? f : x)))
  const remove = (i: number) => props.onChange(fields.filter((_, j) => j !== i))
  const move = (i: number, by: number) => {
    const j = i + by
    if (j < 0 || j >= fields.length) return
    const next = [...fields]
    ;[next[i], next[j]] = [next[j]!, next[i]!]
    props.onChange(next)
  }
  const add = () => {
    let n = 1
    while (fields.some((f) => f.name === `field${n}`)) n++
    props.onChange([...fields, newField(type, `field${n}`)])
    setOpen(fields.length)
  }

  return (
    <div class="fields-editor">
      {fields.map((f, i) => {
        const err = Object.entries(props.errors).filter(([k]) => k.startsWith(`fields.${i}.`)).map(([, v]) => v).join(' ')
        return (
          <div class={'field-row' + (err ? ' invalid' : '')} data-field={f.name}>
            <div class="field-head">
              <span class={'badge ftype'}>{f.type}</span>
              <input aria-label={t('Field name')} name={`fields.${i}.name`} value={f.name} disabled={f.system} onInput={(e) => set(i, { ...f, name: e.currentTarget.value })} />
              <label class="check small" title={t('Nonempty')}>
                <input type="checkbox" checked={!!f.required} disabled={f.type === 'autodate' || (f.system && f.name !== 'email')} onChange={(e) => set(i, { ...f, required: e.currentTarget.checked })} /> {t('Nonempty')}
              </label>
              <button type="button" class="icon" aria-label={t('Options')} aria-expanded={open === i} onClick={() => setOpen(open === i ? undefined : i)}>⚙</button>
              <button type="button" class="icon" aria-label={t('Move up')} onClick={() => move(i, -1)}>↑</button>
              {!f.system && <button type="button" class="icon danger" aria-label={t('Remove field')} onClick={() => remove(i)}>×</button>}
            </div>
            {err && <small class="error">{err}</small>}
            {open === i && <FieldOptions field={f} collection={props.collection} onChange={(nf) => set(i, nf)} />}
          </div>
        )
      })}
      <div class="add-field">
        <select aria-label={t('New field type')} name="newFieldType" value={type} onChange={(e) => setType(e.currentTarget.value)}>
          {FIELD_TYPES.filter((ft) => ft !== 'password' || props.collection.type === 'auth').map((ft) => <option value={ft}>{ft}</option>)}
        </select>
        <button type="button" onClick={add}>+ {t('Add field')}</button>
      </div>
    </div>
  )
}
