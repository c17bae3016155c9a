import { useState } from 'preact/hooks'
import { Spinner } from '../components/ui.tsx'
import { t } from '../i18n.ts'
import { navigate } from '../router.ts'
import { useCollections } from '../store.ts'
import type { Collection } from '../types.ts'
import { CollectionEditor } from './collection-editor.tsx'
import { ImportExport } from './import-export.tsx'
import { RecordsView } from './records.tsx'

/** Collections: the list at the side (system ones folded away), the chosen one's records beside it. */
export function CollectionsPage(props: { name: string | undefined }) {
  const collections = useCollections()
  const [search, setSearch] = useState('')
  const [editing, setEditing] = useState<Collection | 'new' | undefined>()
  const [porting, setPorting] = useState(false)
  const [showSystem, setShowSystem] = useState(false)
  if (!collections) return <Spinner />

  const current = collections.find((c) => c.name === props.name || c.id === props.name)
  const shown = collections.filter((c) => (showSystem || !c.system || c.name === '_superusers') && c.name.toLowerCase().includes(search.toLowerCase()))

  return (
    <div class="split">
      <section class="side-list" aria-label={t('Collections')}>
        <input type="search" placeholder={t('Search collections')} value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        <ul>
          {shown.map((c) => (
            <li>
              <a href={`#/collections/${encodeURIComponent(c.name)}`} class={c === current ? 'active' : ''}>
                <span class={'badge type-' + c.type}>{t(c.type)}</span> {c.name}
              </a>
            </li>
          ))}
        </ul>
        <label class="check small">
          <input type="checkbox" checked={showSystem} onChange={(e) => setShowSystem(e.currentTarget.checked)} /> {t('Show system collections')}
        </label>
        <button type="button" class="primary block" onClick={() => setEditing('new')}>+ {t('New collection')}</button>
        <button type="button" class="block" onClick={() => setPorting(true)}>{t('Import / export')}</button>
      </section>
      <section class="main">
        {current ? (
          <RecordsView key={current.id} collection={current} onEdit={() => setEditing(current)} />
        ) : (
          <div class="empty">
            <h1>{t('Collections')}</h1>
            <p class="muted">{collections.some((c) => !c.system) ? t('Pick a collection to see its records.') : t('No collections yet. Create the first one to start your app.')}</p>
            <button type="button" class="primary" onClick={() => setEditing('new')}>+ {t('New collection')}</button>
          </div>
        )}
      </section>
      {editing && (
        <CollectionEditor
          collection={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={(c) => {
            setEditing(undefined)
            if (c) navigate(`/collections/${encodeURIComponent(c.name)}`)
            else navigate('/collections')
          }}
        />
      )}
      {porting && <ImportExport collections={collections} onClose={() => setPorting(false)} />}
    </div>
  )
}
