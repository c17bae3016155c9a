import { t } from '../i18n.ts'
import type { Field } from '../types.ts'
import { RelationPicker } from './relation-picker.tsx'

/** `2024-01-02 03:04:05.678Z` (PocketBase, UTC) -> `2024-01-02T03:04:05` for a datetime-local input showing UTC. */
export function toInputDate(v: unknown): string {
  const s = typeof v === 'string' ? v : ''
  return s ? s.replace(' ', 'T').replace(/(\.\d+)?Z$/, '').slice(0, 19) : ''
}

/** The reverse: a datetime-local value read as UTC, in PocketBase's format. */
export function fromInputDate(s: string): string {
  if (!s) return ''
  const withSeconds = s.length === 16 ? `${s}:00` : s
  return `${withSeconds.replace('T', ' ')}.000Z`
}

/** The editor of one value by field type (files have their own, file-input.tsx). */
export function FieldInput(props: { field: Field; value: unknown; onChange: (v: unknown) => void; readOnly?: boolean }) {
  const { field: f, value: v, onChange } = props
  const name = f.name
  switch (f.type) {
    case 'bool':
      return (
        <label class="check">
          <input type="checkbox" name={name} checked={!!v} disabled={props.readOnly} onChange={(e) => onChange(e.currentTarget.checked)} /> {f.name}
        </label>
      )
    case 'number':
      return <input type="number" step="any" name={name} value={v === null || v === undefined ? '' : String(v)} onInput={(e) => onChange(e.currentTarget.value === '' ? null : Number(e.currentTarget.value))} />
    case 'email':
      return <input type="email" name={name} value={String(v ?? '')} onInput={(e) => onChange(e.currentTarget.value)} />
    case 'url':
      return <input type="url" name={name} value={String(v ?? '')} onInput={(e) => onChange(e.currentTarget.value)} />
    case 'editor':
      return <textarea name={name} rows={6} value={String(v ?? '')} onInput={(e) => onChange(e.currentTarget.value)} />
    case 'date':
      return <input type="datetime-local" step={1} name={name} value={toInputDate(v)} onInput={(e) => onChange(fromInputDate(e.currentTarget.value))} />
    case 'autodate':
      return <input name={name} readOnly value={String(v ?? '')} placeholder={t('Set by the server')} />
    case 'select': {
      const values = (f.values as string[] | undefined) ?? []
      const multi = Number(f.maxSelect ?? 1) > 1
      if (!multi) {
        return (
          <select name={name} value={String(v ?? '')} onChange={(e) => onChange(e.currentTarget.value)}>
            <option value="">—</option>
            {values.map((x) => <option value={x}>{x}</option>)}
          </select>
        )
      }
      const chosen = Array.isArray(v) ? (v as string[]) : []
      return (
        <div class="checks">
          {values.map((x) => (
            <label class="check small">
              <input type="checkbox" name={`${name}.${x}`} checked={chosen.includes(x)} onChange={(e) => onChange(e.currentTarget.checked ? [...chosen, x] : chosen.filter((y) => y !== x))} /> {x}
            </label>
          ))}
        </div>
      )
    }
    case 'json':
      // Kept as text while editing; record-editor.tsx parses it on save.
      return <textarea class="code" name={name} rows={5} spellcheck={false} value={typeof v === 'string' ? v : JSON.stringify(v ?? null, null, 2)} onInput={(e) => onChange(e.currentTarget.value)} />
    case 'relation':
      return <RelationPicker field={f} value={v} onChange={onChange} />
    case 'geoPoint': {
      const p = (v && typeof v === 'object' ? v : { lon: 0, lat: 0 }) as { lon: number; lat: number }
      return (
        <div class="row">
          <input type="number" step="any" name={`${name}.lon`} aria-label={t('Longitude')} placeholder="lon" value={p.lon} onInput={(e) => onChange({ ...p, lon: Number(e.currentTarget.value) })} />
          <input type="number" step="any" name={`${name}.lat`} aria-label={t('Latitude')} placeholder="lat" value={p.lat} onInput={(e) => onChange({ ...p, lat: Number(e.currentTarget.value) })} />
        </div>
      )
    }
    default:
      return <input name={name} value={String(v ?? '')} readOnly={props.readOnly} onInput={(e) => onChange(e.currentTarget.value)} />
  }
}
