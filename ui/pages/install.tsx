import { useState } from 'preact/hooks'
import { errorMessage, fieldErrors, pb, PASSWORD_FIELDS, sealed, sealedValue, SUPERUSERS } from '../api.ts'
import { Field } from '../components/ui.tsx'
import { t } from '../i18n.ts'
import { navigate } from '../router.ts'

/**
 * The install link's page (`/_/#/pbinstall/TOKEN`, printed at the first start): creates the first
 * superuser with the link's one-time token, then signs in with it. The server deletes the
 * installer afterwards, so the link stops working.
 */
export function InstallPage(props: { token: string }) {
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [confirm, setConfirm] = useState('')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)

  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setErrors({})
    setMessage('')
    try {
      await pb.send(`/api/collections/${SUPERUSERS}/records`, {
        method: 'POST',
        headers: { Authorization: props.token },
        body: await sealed({ email, password, passwordConfirm: confirm }, PASSWORD_FIELDS),
      })
      await pb.collection(SUPERUSERS).authWithPassword(email, await sealedValue(password))
      navigate('/collections')
    } catch (err) {
      setErrors(fieldErrors(err))
      setMessage(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="center-page">
      <form class="card narrow" onSubmit={submit}>
        <h1>{t('Create your first superuser')}</h1>
        <p class="muted">{t('This link works once. The superuser you create here can sign in to this console.')}</p>
        <Field label={t('Email')} error={errors.email}>
          <input name="email" type="email" required autoComplete="username" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field label={t('Password')} error={errors.password}>
          <input name="password" type="password" required minLength={8} autoComplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <Field label={t('Password again')} error={errors.passwordConfirm}>
          <input name="passwordConfirm" type="password" required autoComplete="new-password" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} />
        </Field>
        {message && <p class="error" role="alert">{message}</p>}
        <button type="submit" class="primary block" disabled={busy}>{t('Create superuser and sign in')}</button>
      </form>
    </div>
  )
}
