import { useState } from 'preact/hooks'
import { errorMessage, fieldErrors, pb } from '../api.ts'
import { t } from '../i18n.ts'
import type { Rec } from '../types.ts'
import { AsyncButton, Field } from './ui.tsx'

/**
 * Runs a view query without saving it: a throwaway view collection is created with the query
 * (superusers only, no rules), its first rows are read, and it is deleted again. The server
 * validates the query exactly as it will on save, so an error here is the error saving would give.
 */
async function preview(query: string): Promise<{ fields: string[]; rows: Rec[] }> {
  const name = `_preview_${Math.random().toString(36).slice(2, 10)}`
  const created = await pb.collections.create({ name, type: 'view', viewQuery: query, listRule: null, viewRule: null })
  try {
    const list = await pb.collection(name).getList<Rec>(1, 10, { skipTotal: true })
    return { fields: (created.fields as { name: string }[]).map((f) => f.name), rows: list.items }
  } finally {
    await pb.collections.delete(created.id).catch(() => undefined)
  }
}

export function ViewQueryEditor(props: { value: string; error: string | undefined; onChange: (q: string) => void }) {
  const [result, setResult] = useState<{ fields: string[]; rows: Rec[] }>()
  const [problem, setProblem] = useState('')

  const run = async () => {
    setProblem('')
    setResult(undefined)
    try {
      setResult(await preview(props.value))
    } catch (err) {
      setProblem(fieldErrors(err).viewQuery ?? errorMessage(err))
    }
  }

  return (
    <div class="view-query">
      <Field label={t('SELECT query')} error={props.error || problem} hint={t('Must return an id column. Example: SELECT id, title FROM posts WHERE published = true')} wide>
        <textarea name="viewQuery" rows={6} spellcheck={false} value={props.value} onInput={(e) => props.onChange(e.currentTarget.value)} />
      </Field>
      <AsyncButton onClick={run} disabled={!props.value.trim()}>{t('Preview')}</AsyncButton>
      {result && (
        <div class="table-wrap preview">
          <table>
            <thead><tr>{result.fields.map((f) => <th>{f}</th>)}</tr></thead>
            <tbody>
              {result.rows.map((r) => <tr>{result.fields.map((f) => <td>{typeof r[f] === 'object' ? JSON.stringify(r[f]) : String(r[f] ?? '')}</td>)}</tr>)}
              {result.rows.length === 0 && <tr><td colSpan={result.fields.length} class="muted">{t('No rows.')}</td></tr>}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
