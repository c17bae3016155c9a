import { useState } from 'preact/hooks'
import { errorMessage, fieldErrors, PASSWORD_FIELDS, pb, sealed } from '../api.ts'
import { FieldInput } from '../components/field-inputs.tsx'
import { FileInput, fileChanges, type FileDraft } from '../components/file-input.tsx'
import { Field, Modal, toast } from '../components/ui.tsx'
import { t } from '../i18n.ts'
import type { Collection, Field as FieldDef, Rec } from '../types.ts'

/** Fields the editor leaves to the server (the auth token key) or shows separately (passwords). */
const SKIP = new Set(['tokenKey'])

const storedFiles = (r: Rec | undefined, name: string): string[] => {
  const v = r?.[name]
  return Array.isArray(v) ? (v as string[]) : v ? [String(v)] : []
}

/**
 * Creates or edits one record: an input per field type, file uploads with previews, relation
 * pickers, JSON checked before it is sent, and (auth collections) a password with its confirmation.
 */
export function RecordEditor(props: { collection: Collection; record: Rec | undefined; onClose: () => void; onSaved: () => void }) {
  const c = props.collection
  const isNew = !props.record
  const fields = c.fields.filter((f) => !SKIP.has(f.name) && f.type !== 'password')
  const [values, setValues] = useState<Record<string, unknown>>(() => ({ ...(props.record ?? {}) }))
  const [files, setFiles] = useState<Record<string, FileDraft>>(() =>
    Object.fromEntries(c.fields.filter((f) => f.type === 'file').map((f) => [f.name, { keep: storedFiles(props.record, f.name), added: [] }])),
  )
  const [password, setPassword] = useState('')
  const [passwordConfirm, setPasswordConfirm] = useState('')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)

  const body = (): Record<string, unknown> | undefined => {
    const out: Record<string, unknown> = {}
    const bad: Record<string, string> = {}
    for (const f of fields) {
      if (f.type === 'autodate' || (f.name === 'id' && !isNew)) continue
      if (f.type === 'file') {
        Object.assign(out, fileChanges(f, storedFiles(props.record, f.name), files[f.name]!))
        continue
      }
      const v = values[f.name]
      if (isNew && f.name === 'id' && !v) continue
      if (f.type === 'json' && typeof v === 'string') {
        try {
          out[f.name] = v.trim() === '' ? null : JSON.parse(v)
        } catch {
          bad[f.name] = t('This is not valid JSON.')
        }
        continue
      }
      if (v !== undefined) out[f.name] = v
    }
    if (c.type === 'auth' && (isNew || password)) Object.assign(out, { password, passwordConfirm })
    setErrors(bad)
    return Object.keys(bad).length ? undefined : out
  }

  const save = async (e: Event) => {
    e.preventDefault()
    const plain = body()
    if (!plain) return
    setBusy(true)
    setMessage('')
    try {
      // Passwords and fields marked sensitive go encrypted (PLINTH_REQUIRE_ENCRYPTION refuses them in the clear).
      const data = await sealed(plain, [...PASSWORD_FIELDS, ...c.fields.filter((f) => f.sensitive === true).map((f) => f.name)])
      if (isNew) await pb.collection(c.name).create(data)
      else await pb.collection(c.name).update(props.record!.id, data)
      toast(isNew ? t('Record created.') : t('Record saved.'))
      props.onSaved()
    } catch (err) {
      setErrors(fieldErrors(err))
      setMessage(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  const remove = async () => {
    if (!props.record || !confirm(t('Delete this record?'))) return
    try {
      await pb.collection(c.name).delete(props.record.id)
      toast(t('Record deleted.'))
      props.onSaved()
    } catch (err) {
      toast(errorMessage(err), 'error')
    }
  }

  const input = (f: FieldDef) => {
    if (f.type === 'file') return <FileInput field={f} record={props.record} draft={files[f.name]!} onChange={(d) => setFiles({ ...files, [f.name]: d })} />
    return <FieldInput field={f} value={values[f.name]} readOnly={f.name === 'id' && !isNew} onChange={(v) => setValues({ ...values, [f.name]: v })} />
  }

  const footer = (
    <>
      {!isNew && <button type="button" class="danger" onClick={remove}>{t('Delete')}</button>}
      <span class="grow" />
      <button type="button" onClick={props.onClose}>{t('Cancel')}</button>
      <button type="submit" form="record-form" class="primary" disabled={busy}>{isNew ? t('Create') : t('Save changes')}</button>
    </>
  )

  return (
    <Modal title={isNew ? t('New {name} record', { name: c.name }) : `${c.name} · ${props.record!.id}`} onClose={props.onClose} footer={footer} wide>
      <form id="record-form" class="record-form" onSubmit={save}>
        {fields.map((f) => (
          <Field label={`${f.name}${f.required ? ' *' : ''}`} error={errors[f.name]} hint={f.type === 'date' ? t('UTC') : f.name === 'id' && isNew ? t('Leave empty to generate') : undefined} wide={['json', 'editor', 'file', 'relation'].includes(f.type)}>
            {input(f)}
          </Field>
        ))}
        {c.type === 'auth' && (
          <div class="row">
            <Field label={isNew ? t('Password') + ' *' : t('New password')} error={errors.password}>
              <input type="password" name="password" autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
            </Field>
            <Field label={t('Password again')} error={errors.passwordConfirm}>
              <input type="password" name="passwordConfirm" autoComplete="new-password" value={passwordConfirm} onInput={(e) => setPasswordConfirm(e.currentTarget.value)} />
            </Field>
          </div>
        )}
        {message && <p class="error" role="alert">{message}</p>}
      </form>
    </Modal>
  )
}
