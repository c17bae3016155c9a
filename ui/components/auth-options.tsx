import { t } from '../i18n.ts'
import type { Collection } from '../types.ts'

type Toggle = { enabled?: boolean; [k: string]: unknown }

/** An auth collection's sign-in methods: password (with its identity fields), one-time codes, MFA. */
export function AuthOptions(props: { collection: Collection; onChange: (patch: Partial<Collection>) => void }) {
  const c = props.collection
  const password = (c.passwordAuth ?? {}) as Toggle & { identityFields?: string[] }
  const otp = (c.otp ?? {}) as Toggle & { duration?: number; length?: number }
  const mfa = (c.mfa ?? {}) as Toggle & { duration?: number; rule?: string }
  const toggle = (key: 'passwordAuth' | 'otp' | 'mfa', value: Toggle, enabled: boolean) => props.onChange({ [key]: { ...value, enabled } })
  return (
    <div class="auth-options">
      <label class="check">
        <input type="checkbox" name="passwordAuth.enabled" checked={!!password.enabled} onChange={(e) => toggle('passwordAuth', password, e.currentTarget.checked)} /> {t('Sign in with a password')}
      </label>
      <label class="field">
        <span class="label">{t('Identity fields')}</span>
        <input name="passwordAuth.identityFields" value={(password.identityFields ?? []).join(', ')} onChange={(e) => props.onChange({ passwordAuth: { ...password, identityFields: e.currentTarget.value.split(',').map((s) => s.trim()).filter(Boolean) } })} />
      </label>
      <label class="check">
        <input type="checkbox" name="otp.enabled" checked={!!otp.enabled} onChange={(e) => toggle('otp', otp, e.currentTarget.checked)} /> {t('Sign in with a one-time code by email')}
      </label>
      <label class="check">
        <input type="checkbox" name="mfa.enabled" checked={!!mfa.enabled} onChange={(e) => toggle('mfa', mfa, e.currentTarget.checked)} /> {t('Require two methods (MFA)')}
      </label>
      <p class="muted small">{t('OAuth2 providers, token durations and mail templates are kept as they are; edit them through the collections API or an imported JSON.')}</p>
    </div>
  )
}
