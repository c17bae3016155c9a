import { useState } from 'preact/hooks'
import { errorMessage, pb } from '../api.ts'
import { t } from '../i18n.ts'
import { AsyncButton, toast } from './ui.tsx'

const TEMPLATES = ['verification', 'password-reset', 'email-change', 'otp', 'login-alert'] as const

/** Sends one of the auth mails to an address now, through the mailer in force (`POST /api/settings/test/email`). */
export function TestEmail() {
  const [to, setTo] = useState((pb.authStore.record?.email as string | undefined) ?? '')
  const [template, setTemplate] = useState<string>('verification')
  const [result, setResult] = useState<{ ok: boolean; text: string }>()
  const send = async () => {
    setResult(undefined)
    try {
      await pb.settings.testEmail('_superusers', to, template)
      setResult({ ok: true, text: t('Test email sent to {to}.', { to }) })
      toast(t('Test email sent to {to}.', { to }))
    } catch (err) {
      setResult({ ok: false, text: errorMessage(err) })
    }
  }
  return (
    <div class="test-email">
      <h3>{t('Send a test email')}</h3>
      <div class="row">
        <input type="email" name="testEmail.to" aria-label={t('To')} value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        <select name="testEmail.template" aria-label={t('Template')} value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
          {TEMPLATES.map((x) => <option value={x}>{x}</option>)}
        </select>
        <AsyncButton onClick={send} disabled={!to}>{t('Send')}</AsyncButton>
      </div>
      {result && <p class={result.ok ? 'success' : 'error'} role="status">{result.text}</p>}
    </div>
  )
}
