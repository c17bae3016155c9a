import { t } from '../i18n.ts'
import type { Collection } from '../types.ts'

/** The collection's indexes as `CREATE [UNIQUE] INDEX` statements (PocketBase's form), one per line. */
export function IndexesEditor(props: { collection: Collection; errors: Record<string, string>; onChange: (indexes: string[]) => void }) {
  const { name, indexes } = props.collection
  const set = (i: number, v: string) => props.onChange(indexes.map((x, j) => (j === i ? v : x)))
  const add = (unique: boolean) => {
    const n = indexes.length + 1
    props.onChange([...indexes, `CREATE ${unique ? 'UNIQUE ' : ''}INDEX \`idx_${name || 'new'}_${n}\` ON \`${name || 'new'}\` (\`field\`)`])
  }
  return (
    <div class="indexes-editor">
      {indexes.length === 0 && <p class="muted">{t('No indexes.')}</p>}
      {indexes.map((ix, i) => (
        <div class={'index-row' + (props.errors[`indexes.${i}`] ? ' invalid' : '')}>
          <textarea name={`indexes.${i}`} rows={2} spellcheck={false} value={ix} onInput={(e) => set(i, e.currentTarget.value)} />
          <button type="button" class="icon danger" aria-label={t('Remove index')} onClick={() => props.onChange(indexes.filter((_, j) => j !== i))}>×</button>
          {props.errors[`indexes.${i}`] && <small class="error">{props.errors[`indexes.${i}`]}</small>}
        </div>
      ))}
      {props.errors.indexes && <small class="error">{props.errors.indexes}</small>}
      <div class="actions">
        <button type="button" onClick={() => add(false)}>+ {t('Index')}</button>
        <button type="button" onClick={() => add(true)}>+ {t('Unique index')}</button>
      </div>
    </div>
  )
}
