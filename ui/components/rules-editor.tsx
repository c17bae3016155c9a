import { useEffect, useState } from 'preact/hooks'
import { errorMessage, pb } from '../api.ts'
import { t } from '../i18n.ts'
import { useCollections } from '../store.ts'
import type { Collection, RuleName } from '../types.ts'
import { RuleInput, ruleWords } from './rule-input.tsx'

const LABELS: Record<RuleName, string> = {
  listRule: 'List/Search rule',
  viewRule: 'View rule',
  createRule: 'Create rule',
  updateRule: 'Update rule',
  deleteRule: 'Delete rule',
  authRule: 'Authentication rule',
  manageRule: 'Manage rule',
}

type Check = { state: 'ok' } | { state: 'error'; message: string } | undefined

/**
 * Checks a rule against the saved collection as the server sees it: the rule as a list filter
 * (same language, same field resolution). `@request.body`/`query`/`headers` only exist in a real
 * request, so those rules are checked when saved.
 */
async function checkRule(collection: string, rule: string): Promise<Check> {
  if (!rule.trim() || /@request\.(body|query|headers)/.test(rule)) return undefined
  try {
    await pb.collection(collection).getList(1, 1, { filter: rule, skipTotal: true, fields: 'id' })
    return { state: 'ok' }
  } catch (err) {
    return { state: 'error', message: errorMessage(err) }
  }
}

/** One rule: locked (superusers only, `null`), public (empty) or a filter expression, with completion and a check as you type. */
function RuleRow(props: { name: RuleName; value: string | null; words: string[]; saved: Collection | undefined; error: string | undefined; onChange: (v: string | null) => void }) {
  const [check, setCheck] = useState<Check>()
  const locked = props.value === null
  useEffect(() => {
    setCheck(undefined)
    if (!props.saved || props.value === null) return
    const timer = setTimeout(() => checkRule(props.saved!.name, props.value ?? '').then(setCheck), 400)
    return () => clearTimeout(timer)
  }, [props.value, props.saved?.name])

  return (
    <div class={'rule' + (props.error || check?.state === 'error' ? ' invalid' : '')} data-rule={props.name}>
      <div class="rule-head">
        <span class="label">{t(LABELS[props.name])}</span>
        <label class="check small">
          <input type="checkbox" name={`${props.name}.locked`} checked={locked} onChange={(e) => props.onChange(e.currentTarget.checked ? null : '')} /> {t('Superusers only')}
        </label>
      </div>
      {locked ? (
        <p class="muted small">{t('Only superusers can perform this action.')}</p>
      ) : (
        <RuleInput name={props.name} value={props.value ?? ''} words={props.words} placeholder={t('Empty: everyone. Example: @request.auth.id != "" && owner = @request.auth.id')} onInput={(v) => props.onChange(v)} />
      )}
      {props.error && <small class="error">{props.error}</small>}
      {!props.error && check?.state === 'error' && <small class="error">{check.message}</small>}
      {!props.error && check?.state === 'ok' && <small class="ok">✓ {t('Valid')}</small>}
    </div>
  )
}

/** The collection's API rules (and, for auth collections, its auth and manage rules). */
export function RulesEditor(props: { collection: Collection; saved: Collection | undefined; errors: Record<string, string>; onChange: (patch: Partial<Collection>) => void }) {
  const collections = useCollections() ?? []
  const authFields = [...new Set(collections.filter((c) => c.type === 'auth').flatMap((c) => c.fields.map((f) => f.name)))]
  const words = ruleWords(props.collection.fields, collections, authFields)
  const names: RuleName[] = ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule']
  if (props.collection.type === 'auth') names.push('authRule', 'manageRule')
  const shown = props.collection.type === 'view' ? names.slice(0, 2) : names
  return (
    <div class="rules-editor">
      <p class="muted small">{t('Rules use the filter syntax. Start typing a field name, @request. or @collection. for suggestions (Tab takes the first).')}</p>
      {shown.map((name) => (
        <RuleRow
          name={name}
          value={(props.collection[name] ?? null) as string | null}
          words={words}
          saved={props.saved}
          error={props.errors[name]}
          onChange={(v) => props.onChange({ [name]: v })}
        />
      ))}
    </div>
  )
}
