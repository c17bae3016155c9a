import { useState } from 'preact/hooks'
import { errorMessage, pb } from '../api.ts'
import { AsyncButton, Field, Modal, Tabs, toast } from '../components/ui.tsx'
import { t } from '../i18n.ts'
import { reloadCollections } from '../store.ts'
import type { Collection } from '../types.ts'

/** PocketBase's export: the collections' JSON as the API sends it, without `created`/`updated`. */
function exportJson(collections: Collection[]): string {
  const out = collections.map((c) => {
    const { created: _c, updated: _u, ...rest } = c
    return rest
  })
  return JSON.stringify(out, null, 2)
}

/** Export (copy or download) and import (paste or pick a file) of the collections' JSON, PocketBase's format. */
export function ImportExport(props: { collections: Collection[]; onClose: () => void }) {
  const [tab, setTab] = useState<'export' | 'import'>('export')
  const [text, setText] = useState('')
  const [deleteMissing, setDeleteMissing] = useState(false)
  const [problem, setProblem] = useState('')
  const json = exportJson(props.collections)

  const download = () => {
    const url = URL.createObjectURL(new Blob([json], { type: 'application/json' }))
    const a = document.createElement('a')
    a.href = url
    a.download = 'pb_schema.json'
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  }

  const importNow = async () => {
    setProblem('')
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      setProblem(t('This is not valid JSON.'))
      return
    }
    if (!Array.isArray(parsed)) {
      setProblem(t('Expected an array of collections.'))
      return
    }
    if (deleteMissing && !confirm(t('Collections missing from the import, and their records, will be deleted. Continue?'))) return
    try {
      await pb.collections.import(parsed as never[], deleteMissing)
      await reloadCollections()
      toast(t('Imported {n} collections.', { n: parsed.length }))
      props.onClose()
    } catch (err) {
      setProblem(errorMessage(err))
    }
  }

  return (
    <Modal title={t('Import / export')} onClose={props.onClose} wide>
      <Tabs tabs={[{ id: 'export', label: t('Export') }, { id: 'import', label: t('Import') }] as const} value={tab} onChange={setTab} />
      {tab === 'export' ? (
        <div class="stack">
          <textarea class="code" rows={16} readOnly value={json} name="export" />
          <div class="actions">
            <button type="button" onClick={() => navigator.clipboard?.writeText(json).then(() => toast(t('Copied.')))}>{t('Copy')}</button>
            <button type="button" class="primary" onClick={download}>{t('Download JSON')}</button>
          </div>
        </div>
      ) : (
        <div class="stack">
          <input type="file" accept="application/json,.json" onChange={async (e) => setText((await e.currentTarget.files?.[0]?.text()) ?? '')} />
          <Field label={t('Collections JSON')} error={problem} wide>
            <textarea class="code" rows={14} name="import" value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </Field>
          <label class="check">
            <input type="checkbox" checked={deleteMissing} onChange={(e) => setDeleteMissing(e.currentTarget.checked)} /> {t('Delete collections that are not in the import')}
          </label>
          <AsyncButton class="primary" onClick={importNow} disabled={!text.trim()}>{t('Import')}</AsyncButton>
        </div>
      )}
    </Modal>
  )
}
