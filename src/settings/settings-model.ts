import type { PlinthConfig } from '../config/schema.ts'
import type { ConfigSources } from '../config/sources.ts'
import { parseFilesUrl, parseMailUrl } from '../config/urls.ts'
import { DEFAULT_FROM } from '../mail/mail.ts'

/**
 * PocketBase's settings object (`GET /api/settings`), field for field. Plinth keeps the values a
 * superuser set in `_params` (key `settings`, src/settings/settings-store.ts); the rest come from
 * the configuration, and values the configuration sets explicitly (file, env, flags) win and are
 * read-only (`lockedSettings`).
 */
export interface S3Settings {
  enabled: boolean
  bucket: string
  region: string
  endpoint: string
  accessKey: string
  /** Secret: stored, never sent back. */
  secret: string
  forcePathStyle: boolean
}
export interface RateLimitRuleSettings {
  label: string
  audience: '' | '@guest' | '@auth'
  duration: number
  maxRequests: number
}
export interface Settings {
  meta: { appName: string; appURL: string; senderName: string; senderAddress: string; hideControls: boolean }
  logs: { maxDays: number; minLevel: number; logIP: boolean; logAuthId: boolean }
  smtp: {
    enabled: boolean
    port: number
    host: string
    username: string
    /** Secret: stored, never sent back. */
    password: string
    authMethod: string
    tls: boolean
    localName: string
  }
  s3: S3Settings
  backups: { cron: string; cronMaxKeep: number; s3: S3Settings }
  batch: { enabled: boolean; maxRequests: number; timeout: number; maxBodySize: number }
  rateLimits: { enabled: boolean; rules: RateLimitRuleSettings[] }
  trustedProxy: { headers: string[]; useLeftmostIP: boolean }
}

/** The secrets: kept, never in a response (PocketBase blanks and omits them). */
export const SECRET_PATHS = ['smtp.password', 's3.secret', 'backups.s3.secret'] as const

const emptyS3 = (): S3Settings => ({ enabled: false, bucket: '', region: '', endpoint: '', accessKey: '', secret: '', forcePathStyle: false })

/** Rate limit rules in PocketBase's shape (`audience` always present). */
export function rulesOf(config: Pick<PlinthConfig, 'rateLimits'>): RateLimitRuleSettings[] {
  return config.rateLimits.rules.map((r) => ({ label: r.label, audience: r.audience ?? '', duration: r.duration, maxRequests: r.maxRequests }))
}

function smtpOf(mail: string): Settings['smtp'] {
  const target = parseMailUrl(mail, 'mail')
  if (target.engine !== 'smtp') return { enabled: false, port: 587, host: 'smtp.example.com', username: '', password: '', authMethod: '', tls: false, localName: '' }
  return { enabled: true, port: target.port, host: target.host, username: target.user ?? '', password: target.pass ?? '', authMethod: '', tls: target.secure, localName: '' }
}

function s3Of(files: string): S3Settings {
  try {
    const t = parseFilesUrl(files, 'files')
    if (t.engine !== 's3') return emptyS3()
    return { enabled: true, bucket: t.bucket, region: t.region, endpoint: t.endpoint ?? '', accessKey: t.accessKeyId ?? '', secret: '', forcePathStyle: t.forcePathStyle }
  } catch {
    // A secret file readable only from the start-up directory: the engine has it already.
    return { ...emptyS3(), enabled: true }
  }
}

/**
 * What the settings are when no superuser changed them: Plinth's configuration (its defaults
 * included) in PocketBase's shape; PocketBase's own defaults for what Plinth has no key for.
 * Differences from PocketBase's defaults: batch requests on (as Plinth always had them) with a
 * 30 s timeout (PocketBase: 3 s; a busy database server needs more for a full batch), the
 * app name `Plinth`, and rate limits as the `rateLimits` config (on by default).
 */
export function settingsDefaults(config: Readonly<PlinthConfig>, appUrl: string): Settings {
  const from = parseMailUrl(config.mail, 'mail').from ?? DEFAULT_FROM
  return {
    meta: { appName: 'Plinth', appURL: appUrl, senderName: from.name ?? DEFAULT_FROM.name ?? 'Support', senderAddress: from.address, hideControls: false },
    logs: { maxDays: 5, minLevel: 0, logIP: true, logAuthId: false },
    smtp: smtpOf(config.mail),
    s3: s3Of(config.files),
    backups: { cron: '', cronMaxKeep: 3, s3: emptyS3() },
    batch: { enabled: true, maxRequests: 50, timeout: 30, maxBodySize: 0 },
    rateLimits: { enabled: config.rateLimits.enabled, rules: rulesOf(config) },
    trustedProxy: { headers: [...config.trustedProxy.headers], useLeftmostIP: config.trustedProxy.useLeftmostIP },
  }
}

/** One setting the configuration fixes: its value there and where it was set. */
export interface LockedSetting {
  value: unknown
  source: string
}

/**
 * The settings (dotted paths, `rateLimits.rules` as a whole) that the configuration sets
 * explicitly, with their values and sources. `s3.*` is always the `files` port's, which is
 * opened at start-up and cannot follow a settings change.
 */
export function lockedSettings(config: Readonly<PlinthConfig>, sources: ConfigSources, defaults: Settings): Map<string, LockedSetting> {
  const out = new Map<string, LockedSetting>()
  const link = (settingPath: string, configKey: string, value: unknown) => {
    const source = sources.get(configKey)
    if (source) out.set(settingPath, { value, source })
  }
  link('meta.appURL', 'publicUrl', defaults.meta.appURL)
  link('rateLimits.enabled', 'rateLimits.enabled', config.rateLimits.enabled)
  link('rateLimits.rules', 'rateLimits.rules', rulesOf(config))
  link('trustedProxy.headers', 'trustedProxy.headers', [...config.trustedProxy.headers])
  link('trustedProxy.useLeftmostIP', 'trustedProxy.useLeftmostIP', config.trustedProxy.useLeftmostIP)
  if (sources.has('mail')) {
    for (const [k, v] of Object.entries(defaults.smtp)) link(`smtp.${k}`, 'mail', v)
    const from = parseMailUrl(config.mail, 'mail').from
    if (from) {
      link('meta.senderAddress', 'mail', from.address)
      if (from.name) link('meta.senderName', 'mail', from.name)
    }
  }
  const filesSource = sources.get('files') ?? 'config files'
  for (const [k, v] of Object.entries(defaults.s3)) out.set(`s3.${k}`, { value: v, source: filesSource })
  return out
}

/** The value at a dotted path. */
export function getPath(obj: unknown, dotted: string): unknown {
  let cur = obj
  for (const part of dotted.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

/** Sets the value at a dotted path, making the objects on the way. */
export function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.')
  let cur = obj
  for (const p of parts.slice(0, -1)) {
    const next = cur[p]
    cur = (next && typeof next === 'object' && !Array.isArray(next) ? next : (cur[p] = {})) as Record<string, unknown>
  }
  cur[parts.at(-1)!] = value
}

/** Deep merge of plain objects; arrays and scalars of `over` replace. */
export function mergeDeep<T>(base: T, over: unknown): T {
  if (!over || typeof over !== 'object' || Array.isArray(over)) return (over === undefined ? base : over) as T
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue
    const cur = out[k]
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? mergeDeep(cur, v) : v
  }
  return out as T
}
