import { useEffect, useState } from 'preact/hooks'
import { errorMessage, fieldErrors, pb } from '../api.ts'
import { RateLimitRules, type RateRule } from '../components/rate-limit-rules.tsx'
import { TestEmail } from '../components/test-email.tsx'
import { AsyncButton, Spinner, toast } from '../components/ui.tsx'
import { t } from '../i18n.ts'

type Settings = Record<string, Record<string, unknown>> & { '@locked'?: Record<string, string> }

const getPath = (obj: Settings, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj)
function setPath(obj: Settings, path: string, value: unknown): Settings {
  const next = JSON.parse(JSON.stringify(obj)) as Settings
  const parts = path.split('.')
  let o = next as Record<string, unknown>
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>
  o[parts.at(-1)!] = value
  return next
}

/** What the settings editor sends: the sections shown, without the values the configuration locks. */
function patchOf(s: Settings, locked: Record<string, string>, password: string): Record<string, unknown> {
  const body = JSON.parse(JSON.stringify(s)) as Record<string, Record<string, unknown>>
  delete body['@locked']
  for (const path of Object.keys(locked)) {
    const parts = path.split('.')
    let o: Record<string, unknown> | undefined = body
    for (const p of parts.slice(0, -1)) o = o?.[p] as Record<string, unknown> | undefined
    if (o) delete o[parts.at(-1)!]
  }
  if (password && body.smtp) body.smtp.password = password
  return body
}

const SECTIONS = [
  { id: 'meta', title: 'Application', keys: [['appName', 'Application name'], ['appURL', 'Application URL'], ['senderName', 'Sender name'], ['senderAddress', 'Sender address'], ['hideControls', 'Hide collection controls']] },
  { id: 'smtp', title: 'Mail server (SMTP)', keys: [['enabled', 'Use SMTP'], ['host', 'Host'], ['port', 'Port'], ['username', 'Username'], ['tls', 'TLS'], ['authMethod', 'Auth method'], ['localName', 'Local name (EHLO)']] },
  { id: 'batch', title: 'Batch requests', keys: [['enabled', 'Enabled'], ['maxRequests', 'Max requests'], ['timeout', 'Timeout (s)'], ['maxBodySize', 'Max body size (bytes)']] },
  { id: 'logs', title: 'Logs', keys: [['maxDays', 'Keep logs for (days)'], ['minLevel', 'Min level'], ['logIP', 'Log IP addresses'], ['logAuthId', 'Log auth ids']] },
  { id: 'trustedProxy', title: 'Trusted proxy', keys: [['headers', 'Client IP headers'], ['useLeftmostIP', 'Use the leftmost IP']] },
] as const

/**
 * PocketBase's settings (`/api/settings`), stored for every node. Values the configuration file,
 * environment or flags set are shown read-only with where they come from (`@locked`); secrets
 * never come back from the server (the SMTP password field only sets a new one).
 */
export function SettingsPage() {
  const [settings, setSettings] = useState<Settings>()
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [problem, setProblem] = useState('')
  const [password, setPassword] = useState('')
  useEffect(() => {
    pb.settings.getAll().then((s) => setSettings(s as Settings), (err: unknown) => setProblem(errorMessage(err)))
  }, [])
  if (!settings) return problem ? <p class="error">{problem}</p> : <Spinner />
  const locked = settings['@locked'] ?? {}
  const lockOf = (path: string) => Object.entries(locked).find(([p]) => path === p || path.startsWith(`${p}.`))?.[1]

  const input = (path: string, label: string) => {
    const v = getPath(settings, path)
    const source = lockOf(path)
    const set = (value: unknown) => setSettings(setPath(settings, path, value))
    let control
    if (typeof v === 'boolean') control = <input type="checkbox" name={path} checked={v} disabled={!!source} onChange={(e) => set(e.currentTarget.checked)} />
    else if (typeof v === 'number') control = <input type="number" name={path} value={v} disabled={!!source} onInput={(e) => set(Number(e.currentTarget.value))} />
    else if (Array.isArray(v)) control = <input name={path} value={v.join(', ')} disabled={!!source} onChange={(e) => set(e.currentTarget.value.split(',').map((x) => x.trim()).filter(Boolean))} />
    else control = <input name={path} value={String(v ?? '')} disabled={!!source} onInput={(e) => set(e.currentTarget.value)} />
    return (
      <label class={'field setting' + (errors[path] ? ' invalid' : '')}>
        {typeof v === 'boolean' ? <span class="check-line">{control}<span class="label">{t(label)}</span></span> : <><span class="label">{t(label)}</span>{control}</>}
        {source && <small class="locked" title={t('Set by the configuration; change it there.')}>{t('Set by {source}', { source })}</small>}
        {errors[path] && <small class="error">{errors[path]}</small>}
      </label>
    )
  }

  const save = async () => {
    setErrors({})
    try {
      const saved = await pb.settings.update(patchOf(settings, locked, password))
      setSettings(saved as Settings)
      setPassword('')
      toast(t('Settings saved.'))
    } catch (err) {
      setErrors(fieldErrors(err))
      toast(errorMessage(err), 'error')
    }
  }

  return (
    <div class="settings">
      <header class="page-head">
        <h1>{t('Settings')}</h1>
        <AsyncButton class="primary" onClick={save}>{t('Save changes')}</AsyncButton>
      </header>
      {SECTIONS.map((s) => (
        <section class="card" data-section={s.id}>
          <h2>{t(s.title)}</h2>
          <div class="grid">
            {s.keys.map(([k, label]) => input(`${s.id}.${k}`, label))}
            {s.id === 'smtp' && !lockOf('smtp.password') && (
              <label class="field">
                <span class="label">{t('Password')}</span>
                <input type="password" name="smtp.password" autoComplete="new-password" placeholder={t('Unchanged')} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
              </label>
            )}
          </div>
          {s.id === 'smtp' && <TestEmail />}
        </section>
      ))}
      <section class="card" data-section="rateLimits">
        <h2>{t('Rate limits')}</h2>
        {input('rateLimits.enabled', 'Enabled')}
        <RateLimitRules
          rules={(getPath(settings, 'rateLimits.rules') as RateRule[] | undefined) ?? []}
          locked={lockOf('rateLimits.rules')}
          onChange={(rules) => setSettings(setPath(settings, 'rateLimits.rules', rules))}
        />
      </section>
    </div>
  )
}
