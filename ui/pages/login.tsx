import { useEffect, useState } from 'preact/hooks'
import { ClientResponseError, errorMessage, pb, sealedValue, SUPERUSERS } from '../api.ts'
import { Field } from '../components/ui.tsx'
import { t } from '../i18n.ts'

type Step = { kind: 'password' } | { kind: 'otp-request'; mfaId?: string } | { kind: 'otp'; otpId: string; mfaId?: string }

/**
 * Superusers' sign-in. Password first when the collection allows it; when the server answers
 * with an `mfaId` (MFA on), or when only OTP is enabled, a one-time code sent by mail completes it.
 */
export function LoginPage() {
  const [methods, setMethods] = useState<{ password: boolean; otp: boolean } | undefined>()
  const [step, setStep] = useState<Step>({ kind: 'password' })
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [code, setCode] = useState('')
  const [message, setMessage] = useState('')
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    pb.collection(SUPERUSERS).listAuthMethods().then(
      (m) => {
        setMethods({ password: m.password.enabled, otp: m.otp.enabled })
        if (!m.password.enabled && m.otp.enabled) setStep({ kind: 'otp-request' })
      },
      () => setMethods({ password: true, otp: false }),
    )
  }, [])

  const run = async (e: Event, action: () => Promise<void>) => {
    e.preventDefault()
    setBusy(true)
    setMessage('')
    try {
      await action()
    } catch (err) {
      const mfaId = err instanceof ClientResponseError ? (err.response?.mfaId as string | undefined) : undefined
      if (mfaId) {
        // The password was right; the second factor is a code by mail.
        setStep({ kind: 'otp-request', mfaId })
        setMessage(t('A second step is required: we send a one-time code to your email.'))
      } else setMessage(errorMessage(err))
    } finally {
      setBusy(false)
    }
  }

  const signIn = (e: Event) => run(e, async () => void (await pb.collection(SUPERUSERS).authWithPassword(email, await sealedValue(password))))
  const requestCode = (e: Event) =>
    run(e, async () => {
      const mfaId = step.kind === 'otp-request' ? step.mfaId : undefined
      const res = await pb.collection(SUPERUSERS).requestOTP(email)
      setStep({ kind: 'otp', otpId: res.otpId, ...(mfaId ? { mfaId } : {}) })
      setMessage(t('If the address belongs to a superuser, a code is on its way.'))
    })
  const confirmCode = (e: Event) =>
    run(e, async () => {
      if (step.kind !== 'otp') return
      await pb.collection(SUPERUSERS).authWithOTP(step.otpId, await sealedValue(code), step.mfaId ? { mfaId: step.mfaId } : {})
    })

  return (
    <div class="center-page">
      <form class="card narrow login" onSubmit={step.kind === 'password' ? signIn : step.kind === 'otp-request' ? requestCode : confirmCode}>
        <h1>{t('Superuser sign-in')}</h1>
        <Field label={t('Email')}>
          <input name="email" type="email" required autoComplete="username" value={email} readOnly={step.kind === 'otp'} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        {step.kind === 'password' && (
          <Field label={t('Password')}>
            <input name="password" type="password" required autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </Field>
        )}
        {step.kind === 'otp' && (
          <Field label={t('One-time code')}>
            <input name="otp" required autoComplete="one-time-code" inputMode="numeric" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </Field>
        )}
        {message && <p class={step.kind === 'password' ? 'error' : 'muted'} role="alert">{message}</p>}
        <button type="submit" class="primary block" disabled={busy || !methods}>
          {step.kind === 'password' ? t('Sign in') : step.kind === 'otp-request' ? t('Send me a code') : t('Confirm code')}
        </button>
        {methods?.otp && methods.password && step.kind === 'password' && (
          <button type="button" class="link" onClick={() => setStep({ kind: 'otp-request' })}>{t('Sign in with a one-time code instead')}</button>
        )}
      </form>
    </div>
  )
}
