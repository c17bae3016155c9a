import { t } from '../i18n.ts'

export interface RateRule {
  label: string
  audience: '' | '@guest' | '@auth'
  duration: number
  maxRequests: number
}

/** PocketBase's rate limit rules: a label (path or tag), who it counts, and N requests per D seconds. */
export function RateLimitRules(props: { rules: RateRule[]; locked: string | undefined; onChange: (rules: RateRule[]) => void }) {
  const set = (i: number, patch: Partial<RateRule>) => props.onChange(props.rules.map((r, j) => (j === i ? { ...r, ...patch } : r)))
  const disabled = !!props.locked
  return (
    <div class="rate-rules">
      {props.locked && <small class="locked">{t('Set by {source}', { source: props.locked })}</small>}
      <div class="table-wrap">
        <table>
          <thead><tr><th>{t('Label')}</th><th>{t('Audience')}</th><th>{t('Max requests')}</th><th>{t('Per (s)')}</th><th /></tr></thead>
          <tbody>
            {props.rules.map((r, i) => (
              <tr>
                <td><input aria-label={t('Label')} value={r.label} disabled={disabled} onInput={(e) => set(i, { label: e.currentTarget.value })} /></td>
                <td>
                  <select aria-label={t('Audience')} value={r.audience} disabled={disabled} onChange={(e) => set(i, { audience: e.currentTarget.value as RateRule['audience'] })}>
                    <option value="">{t('everyone')}</option>
                    <option value="@guest">@guest</option>
                    <option value="@auth">@auth</option>
                  </select>
                </td>
                <td><input type="number" aria-label={t('Max requests')} value={r.maxRequests} disabled={disabled} onInput={(e) => set(i, { maxRequests: Number(e.currentTarget.value) })} /></td>
                <td><input type="number" aria-label={t('Per (s)')} value={r.duration} disabled={disabled} onInput={(e) => set(i, { duration: Number(e.currentTarget.value) })} /></td>
                <td>{!disabled && <button type="button" class="icon danger" aria-label={t('Remove')} onClick={() => props.onChange(props.rules.filter((_, j) => j !== i))}>×</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!disabled && <button type="button" onClick={() => props.onChange([...props.rules, { label: '', audience: '', duration: 10, maxRequests: 100 }])}>+ {t('Rule')}</button>}
    </div>
  )
}
