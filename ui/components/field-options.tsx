import { t } from '../i18n.ts'
import { useCollections } from '../store.ts'
import type { Collection, Field as FieldDef } from '../types.ts'
import { Field } from './ui.tsx'

const list = (v: unknown): string => (Array.isArray(v) ? v.join(', ') : '')
const parseList = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean)
const num = (v: unknown): string => (typeof v === 'number' ? String(v) : '')
const parseNum = (s: string): number | null => (s.trim() === '' ? null : Number(s))

/** The options of one field, by type (PocketBase's: limits, patterns, domains, values, targets...). */
export function FieldOptions(props: { field: FieldDef; collection: Collection; onChange: (f: FieldDef) => void }) {
  const f = props.field
  const collections = useCollections() ?? []
  const set = (patch: Partial<FieldDef>) => props.onChange({ ...f, ...patch })
  const numInput = (key: string, label: string, int = true) => (
    <Field label={label}>
      <input type="number" step={int ? 1 : 'any'} name={`${f.name}.${key}`} value={num(f[key])} onInput={(e) => set({ [key]: int ? (parseNum(e.currentTarget.value) ?? 0) : parseNum(e.currentTarget.value) })} />
    </Field>
  )
  const textInput = (key: string, label: string, placeholder = '') => (
    <Field label={label}>
      <input name={`${f.name}.${key}`} placeholder={placeholder} value={typeof f[key] === 'string' ? (f[key] as string) : ''} onInput={(e) => set({ [key]: e.currentTarget.value })} />
    </Field>
  )
  const listInput = (key: string, label: string, placeholder = '') => (
    <Field label={label} hint={t('Comma-separated')}>
      <input name={`${f.name}.${key}`} placeholder={placeholder} value={list(f[key])} onChange={(e) => set({ [key]: parseList(e.currentTarget.value) })} />
    </Field>
  )
  const check = (key: string, label: string) => (
    <label class="check">
      <input type="checkbox" name={`${f.name}.${key}`} checked={!!f[key]} onChange={(e) => set({ [key]: e.currentTarget.checked })} /> {label}
    </label>
  )

  let specific
  switch (f.type) {
    case 'text':
      specific = <>{numInput('min', t('Min length'))}{numInput('max', t('Max length'))}{textInput('pattern', t('Pattern (regex)'), '^[a-z0-9]+$')}{textInput('autogeneratePattern', t('Autogenerate pattern'), '[a-z0-9]{15}')}</>
      break
    case 'number':
      specific = <>{numInput('min', t('Min'), false)}{numInput('max', t('Max'), false)}{check('onlyInt', t('Integers only'))}</>
      break
    case 'email':
    case 'url':
      specific = <>{listInput('exceptDomains', t('Except domains'), 'example.com')}{listInput('onlyDomains', t('Only domains'))}</>
      break
    case 'editor':
      specific = <>{numInput('maxSize', t('Max size (bytes)'))}{check('convertURLs', t('Convert URLs'))}</>
      break
    case 'date':
      specific = <>{textInput('min', t('Earliest'), '2024-01-01 00:00:00.000Z')}{textInput('max', t('Latest'))}</>
      break
    case 'autodate':
      specific = <>{check('onCreate', t('Set on create'))}{check('onUpdate', t('Set on update'))}</>
      break
    case 'select':
      specific = <>{listInput('values', t('Values'), 'draft, published')}{numInput('maxSelect', t('Max selected'))}</>
      break
    case 'json':
      specific = numInput('maxSize', t('Max size (bytes)'))
      break
    case 'relation':
      specific = (
        <>
          <Field label={t('Related collection')}>
            <select name={`${f.name}.collectionId`} value={String(f.collectionId ?? '')} onChange={(e) => set({ collectionId: e.currentTarget.value })}>
              <option value="">—</option>
              {collections.map((c) => <option value={c.id}>{c.name}</option>)}
            </select>
          </Field>
          {numInput('minSelect', t('Min selected'))}{numInput('maxSelect', t('Max selected'))}{check('cascadeDelete', t('Delete with the related record'))}
        </>
      )
      break
    case 'file':
      specific = (
        <>
          {numInput('maxSelect', t('Max files'))}{numInput('maxSize', t('Max size (bytes)'))}
          {listInput('mimeTypes', t('MIME types'), 'image/png, image/jpeg')}{listInput('thumbs', t('Thumb sizes'), '100x100, 0x300')}
          {check('protected', t('Protected (needs a file token)'))}
        </>
      )
      break
    case 'password':
      specific = <>{numInput('min', t('Min length'))}{numInput('max', t('Max length'))}{textInput('pattern', t('Pattern (regex)'))}{numInput('cost', t('bcrypt cost'))}</>
      break
    default:
      specific = null
  }

  return (
    <div class="field-options">
      <div class="grid">{specific}</div>
      <div class="checks">
        {check('hidden', t('Hidden (superusers only)'))}
        {check('presentable', t('Presentable (shown in relation pickers)'))}
      </div>
    </div>
  )
}
