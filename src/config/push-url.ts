import { ConfigError } from './errors.ts'
import { engineCredentials, engineEndpoint, splitEngineUrl } from './engine-url.ts'

/**
 * The `push` setting (`PLINTH_PUSH`): a comma list of engine URLs, each scheme one engine:
 *
 * - `log://`: pushes are written to the log (the default).
 * - `apns://KEY_ID:TEAM_ID@?key=/path/AuthKey_KEYID.p8&topic=com.example.app`: Apple Push
 *   Notification service over HTTP/2 with token auth (`sandbox=true` for the development
 *   server; `endpoint=https://...` any other base URL; `ca=/path.pem` trusts that CA instead of
 *   the system's, for a relay or a test server).
 * - `fcm://?credentials=/path/service-account.json`: Firebase Cloud Messaging HTTP v1 with the
 *   service account's key (`project=` overrides its `project_id`; `endpoint=` the send base URL;
 *   the token URL is the account file's `token_uri`).
 * - `rongcloud://APP_KEY:APP_SECRET@?endpoint=https://api.rong-api.com` (RongCloud server API;
 *   the default endpoint is `https://api.rong-api.com`).
 *
 * Secrets live in files (`key=`, `credentials=`) or in the URL's password, and the whole value may
 * come from a file with `PLINTH_PUSH_FILE`. Relative paths are against the working directory.
 */
export interface LogPushTarget {
  engine: 'log'
}
export interface ApnsPushTarget {
  engine: 'apns'
  keyId: string
  teamId: string
  /** Path to the `.p8` key (PKCS#8 PEM). */
  keyFile: string
  /** The default `apns-topic` (a device's own topic wins). */
  topic: string
  endpoint: string
  /** A PEM file of CAs to trust instead of the system's. */
  caFile?: string
}
export interface FcmPushTarget {
  engine: 'fcm'
  /** Path to the service account JSON. */
  credentialsFile: string
  /** Overrides the account's `project_id`. */
  project?: string
  endpoint: string
}
export interface RongcloudPushTarget {
  engine: 'rongcloud'
  appKey: string
  appSecret: string
  endpoint: string
}
export type PushEngineTarget = LogPushTarget | ApnsPushTarget | FcmPushTarget | RongcloudPushTarget
/** The parsed setting: every engine, in the order given. */
export interface PushTarget {
  engine: 'engines'
  engines: PushEngineTarget[]
}

const knownParams = {
  log: {},
  apns: { key: true, topic: true, sandbox: false, endpoint: false, ca: false },
  fcm: { credentials: true, project: false, endpoint: false },
  rongcloud: { endpoint: false },
} as const satisfies Record<PushEngineTarget['engine'], Record<string, boolean>>

export const APNS_PRODUCTION = 'https://api.push.apple.com'
export const APNS_SANDBOX = 'https://api.sandbox.push.apple.com'
const FCM_ENDPOINT = 'https://fcm.googleapis.com'
const RONGCLOUD_ENDPOINT = 'https://api.rong-api.com'

/** Parses the whole list; each engine at most once. */
export function parsePushUrl(value: string, key = 'push', resolvePath: (p: string) => string = (p) => p): PushTarget {
  const parts = value.split(',').map((s) => s.trim()).filter(Boolean)
  if (!parts.length) throw new ConfigError(`config: ${key}: empty (expected log:// or a comma list of engine URLs)`)
  const engines = parts.map((p) => parseOne(p, key, resolvePath))
  const seen = new Set<string>()
  for (const e of engines) {
    if (seen.has(e.engine)) throw new ConfigError(`config: ${key}: ${e.engine}:// is listed twice`)
    seen.add(e.engine)
  }
  return { engine: 'engines', engines }
}

function parseOne(value: string, key: string, resolvePath: (p: string) => string): PushEngineTarget {
  const url = splitEngineUrl(value, key, knownParams)
  const engine = url.scheme as PushEngineTarget['engine']
  const { rawUser, host, params: got } = url
  if (host) throw new ConfigError(`config: ${key}: ${engine}:// takes no host (use endpoint=)`)
  const { user, pass } = engineCredentials(url, key)
  switch (engine) {
    case 'log':
      if (rawUser !== undefined) throw new ConfigError(`config: ${key}: log:// takes no credentials`)
      return { engine }
    case 'apns': {
      if (!user || !pass) throw new ConfigError(`config: ${key}: apns:// needs KEY_ID:TEAM_ID@`)
      if (got.sandbox && got.sandbox !== 'true' && got.sandbox !== 'false') throw new ConfigError(`config: ${key}: sandbox= must be true or false`)
      const endpoint = engineEndpoint(got.endpoint ?? (got.sandbox === 'true' ? APNS_SANDBOX : APNS_PRODUCTION), key, true)
      const t: ApnsPushTarget = { engine, keyId: user, teamId: pass, keyFile: resolvePath(got.key!), topic: got.topic!, endpoint }
      if (got.ca) t.caFile = resolvePath(got.ca)
      return t
    }
    case 'fcm': {
      if (rawUser !== undefined) throw new ConfigError(`config: ${key}: fcm:// takes no credentials in the URL (credentials=FILE)`)
      const t: FcmPushTarget = { engine, credentialsFile: resolvePath(got.credentials!), endpoint: engineEndpoint(got.endpoint ?? FCM_ENDPOINT, key) }
      if (got.project) t.project = got.project
      return t
    }
    case 'rongcloud':
      if (!user || !pass) throw new ConfigError(`config: ${key}: rongcloud:// needs APP_KEY:APP_SECRET@`)
      return { engine, appKey: user, appSecret: pass, endpoint: engineEndpoint(got.endpoint ?? RONGCLOUD_ENDPOINT, key) }
  }
}


/** The setting with every file parameter (`key=`, `credentials=`, `ca=`) made absolute against `cwd`. */
export function absolutePushUrl(value: string, resolve: (p: string) => string): string {
  return value
    .split(',')
    .map((part) => {
      const s = part.trim()
      const q = s.indexOf('?')
      if (q < 0) return s
      const params = new URLSearchParams(s.slice(q + 1))
      for (const name of ['key', 'credentials', 'ca']) {
        const v = params.get(name)
        if (v) params.set(name, resolve(v))
      }
      return `${s.slice(0, q)}?${params.toString()}`
    })
    .join(',')
}
