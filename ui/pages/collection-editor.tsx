import { useEffect, useState } from 'preact/hooks'
import { errorMessage, fieldErrors, pb } from '../api.ts'
import { FieldsEditor } from '../components/fields-editor.tsx'
import { IndexesEditor } from '../components/indexes-editor.tsx'
import { RulesEditor } from '../components/rules-editor.tsx'
import { AuthOptions } from '../components/auth-options.tsx'
import { ViewQueryEditor } from '../components/view-query.tsx'
import { Field, Modal, Spinner, Tabs, toast } from '../components/ui.tsx'
import { t } from '../i18n.ts'
import { reloadCollections } from '../store.ts'
import type { Collection } from '../types.ts'

type Tab = 'fields' | 'query' | 'rules' | 'indexes' | 'auth'
type Scaffolds = Record<'base' | 'auth' | 'view', Collection>

const copy = <T,>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/**
 * Creates or edits one collection: name and type, fields (or the view's query), API rules,
 * indexes and, for auth collections, the sign-in methods. The server validates everything on
 * save; its field errors are shown where they belong (a rule's error under that rule).
 */
export function CollectionEditor(props: { collection: Collection | undefined; onClose: () => void; onSaved: (c: Collection | undefined) => void }) {
  const [scaffolds, setScaffolds] = useState<Scaffolds>()
  const [draft, setDraft] = useState<Collection | undefined>(props.collection && copy(props.collection))
  const [tab, setTab] = useState<Tab>(props.collection?.type === 'view' ? 'query' : 'fields')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)
  const isNew = !props.collection

  useEffect(() => {
    if (!isNew) return
    pb.collections.getScaffolds().then((s) => {
      const all = s as unknown as Scaffolds
      setScaffolds(all)
      setDraft({ ...copy(all.base), name: '' })
    }, (err: unknown) => setMessage(errorMessage(err)))
  }, [])

  if (!draft) return <Modal title={t('New collection')} onClose={props.onClose}><Spinner /></Modal>

  const update = (patch: Partial<Collection>) => setDraft({ ...draft, ...patch })
  const setType = (type: Collection['type']) => {
    if (!scaffolds) return
    // The scaffold's system fields for the new type, plus the fields added so far.
    const own = draft.fields.filter((f) => !f.system)
    const next = copy(scaffolds[type])
    setDraft({ ...next, name: draft.name, fields: type === 'view' ? [] : [...next.fields, ...own], indexes: next.indexes })
    setTab(type === 'view' ? 'query' : 'fields')
  }

  const save = async (e?: Event) => {
    e?.preventDefault()
    setBusy(true)
    setErrors({})
    setMessage('')
    try {
      const body = { ...draft } as Record<string, unknown>
      if (isNew) delete body.id
      const saved = (isNew ? await pb.collections.create(body) : await pb.collections.update(props.collection!.id, body)) as unknown as Collection
      await reloadCollections()
      toast(t('Saved {name}.', { name: saved.name }))
      props.onSaved(saved)
    } catch (err) {
      const fe = fieldErrors(err)
      setErrors(fe)
      setMessage(errorMessage(err))
      // Open the tab where the first error is.
      const first = Object.keys(fe)[0] ?? ''
      if (/Rule$/.test(first)) setTab('rules')
      else if (first.startsWith('indexes')) setTab('indexes')
      else if (first.startsWith('viewQuery')) setTab('query')
      else if (first.startsWith('fields')) setTab('fields')
    } finally {
      setBusy(false)
    }
  }

  const remove = async () => {
    if (!props.collection) return
    if (prompt(t('Type the collection name ({name}) to delete it and all its records.', { name: props.collection.name })) !== props.collection.name) return
    try {
      await pb.collections.delete(props.collection.id)
      await reloadCollections()
      toast(t('Deleted {name}.', { name: props.collection.name }))
      props.onSaved(undefined)
    } catch (err) {
      toast(errorMessage(err), 'error')
    }
  }

  const tabs: { id: Tab; label: string }[] = [
    draft.type === 'view' ? { id: 'query', label: t('Query') } : { id: 'fields', label: t('Fields') },
    { id: 'rules', label: t('API rules') },
    ...(draft.type === 'view' ? [] : [{ id: 'indexes' as const, label: t('Indexes') }]),
    ...(draft.type === 'auth' ? [{ id: 'auth' as const, label: t('Auth options') }] : []),
  ]

  const footer = (
    <>
      {!isNew && !props.collection?.system && <button type="button" class="danger" onClick={remove}>{t('Delete')}</button>}
      <span class="grow" />
      <button type="button" onClick={props.onClose}>{t('Cancel')}</button>
      <button type="submit" form="collection-form" class="primary" disabled={busy}>{isNew ? t('Create') : t('Save changes')}</button>
    </>
  )

  return (
    <Modal title={isNew ? t('New collection') : t('Edit collection {name}', { name: props.collection!.name })} onClose={props.onClose} footer={footer} wide>
      <form id="collection-form" onSubmit={save} class="collection-editor">
        <div class="row">
          <Field label={t('Name')} error={errors.name}>
            <input name="name" required value={draft.name} disabled={draft.system} placeholder="posts" onInput={(e) => update({ name: e.currentTarget.value })} />
          </Field>
          <Field label={t('Type')}>
            <select name="type" value={draft.type} disabled={!isNew} onChange={(e) => setType(e.currentTarget.value as Collection['type'])}>
              <option value="base">{t('base')}</option>
              <option value="auth">{t('auth')}</option>
              <option value="view">{t('view')}</option>
            </select>
          </Field>
        </div>
        <Tabs tabs={tabs} value={tab} onChange={setTab} />
        {tab === 'fields' && <FieldsEditor collection={draft} errors={errors} onChange={(fields) => update({ fields })} />}
        {tab === 'query' && <ViewQueryEditor value={draft.viewQuery ?? ''} error={errors.viewQuery} onChange={(viewQuery) => update({ viewQuery })} />}
        {tab === 'rules' && <RulesEditor collection={draft} saved={props.collection} errors={errors} onChange={update} />}
        {tab === 'indexes' && <IndexesEditor collection={draft} errors={errors} onChange={(indexes) => update({ indexes })} />}
        {tab === 'auth' && <AuthOptions collection={draft} onChange={update} />}
        {message && <p class="error" role="alert">{message}</p>}
      </form>
    </Modal>
  )
}
