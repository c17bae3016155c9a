import { useEffect, useState } from 'preact/hooks'
import { errorMessage, pb, sealedValue } from '../api.ts'
import { Field } from '../components/ui.tsx'
import { t } from '../i18n.ts'

/** The payload of a JWT (no verification: the server checks the token; this only reads where it is for). */
function claims(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1] ?? ''
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='))
    return JSON.parse(json) as Record<string, unknown>
  } catch {
    return {}
  }
}

/**
 * The pages behind the auth mails' links, at PocketBase's paths (src/auth/mails.ts):
 * `#/auth/confirm-verification/TOKEN`, `#/auth/confirm-password-reset/TOKEN`,
 * `#/auth/confirm-email-change/TOKEN`. They are for the app's users, not superusers: the token
 * names its collection, and the page calls that collection's confirm endpoint.
 */
export function AuthLinkPage(props: { kind: string; token: string }) {
  const collection = String(claims(props.token).collectionId ?? '')
  const [done, setDone] = useState('')
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)
  const [password, setPassword] = useState('')
  const [confirm, setConfirm] = useState('')

  const run = async (action: () => Promise<unknown>, success: string) => {
    setBusy(true)
    setMessage('')
    try {
      await action()
      setDone(success)
    } catch (err) {
      setMessage(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  useEffect(() => {
    if (props.kind === 'confirm-verification' && collection) {
      void run(() => pb.collection(collection).confirmVerification(props.token), t('Your email address is verified.'))
    }
  }, [props.kind, props.token])

  let body
  if (!collection) body = <p class="error">{t('This link is invalid or has expired.')}</p>
  else if (done) body = <p class="success" role="status">{done}</p>
  else if (props.kind === 'confirm-verification') body = message ? <p class="error" role="alert">{message}</p> : <p class="muted">{t('Verifying…')}</p>
  else if (props.kind === 'confirm-password-reset' || props.kind === 'confirm-email-change') {
    const reset = props.kind === 'confirm-password-reset'
    const submit = (e: Event) => {
      e.preventDefault()
      void run(
        async () => (reset ? pb.collection(collection).confirmPasswordReset(props.token, await sealedValue(password), await sealedValue(confirm)) : pb.collection(collection).confirmEmailChange(props.token, await sealedValue(password))),
        reset ? t('Your password has been changed. You can sign in with it now.') : t('Your email address has been changed.'),
      )
    }
    body = (
      <form onSubmit={submit}>
        {!reset && typeof claims(props.token).newEmail === 'string' && <p class="muted">{t('New email: {email}', { email: String(claims(props.token).newEmail) })}</p>}
        <Field label={reset ? t('New password') : t('Your password')}>
          <input name="password" type="password" required autoComplete={reset ? 'new-password' : 'current-password'} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        {reset && (
          <Field label={t('New password again')}>
            <input name="passwordConfirm" type="password" required autoComplete="new-password" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
          </Field>
        )}
        {message && <p class="error" role="alert">{message}</p>}
        <button type="submit" class="primary block" disabled={busy}>{reset ? t('Set new password') : t('Confirm new email')}</button>
      </form>
    )
  } else body = <p class="error">{t('This link is invalid or has expired.')}</p>

  const title = props.kind === 'confirm-password-reset' ? t('Reset your password') : props.kind === 'confirm-email-change' ? t('Confirm your new email') : t('Verify your email')
  return (
    <div class="center-page">
      <div class="card narrow">
        <h1>{title}</h1>
        {body}
      </div>
    </div>
  )
}
