import type { FastifyRequest } from 'fastify'
import type { Authenticate } from '../auth/authenticate.ts'
import { SUPERUSERS } from '../auth/authenticate.ts'
import type { MailApp } from '../auth/mails.ts'
import { passesAuthRule } from '../auth/rule.ts'
import { authRequestInfo } from '../auth/request-info.ts'
import { pickResponseFields, publicAuthRecord } from '../auth/response.ts'
import { signRecordToken } from '../auth/tokens.ts'
import type { AuthAttempt, AuthThrottle } from '../auth/throttle.ts'
import type { Counters } from '../counters/counters.ts'
import { rowString, type Row } from '../auth/records.ts'
import { ApiError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Mailer } from '../mail/mail.ts'
import { rowToRecord } from '../records/fields/index.ts'
import { isAuthCollection, type AuthCollection } from '../records/model.ts'
import type { AuthInfo, RecordJson } from '../records/record.ts'
import type { RecordsService } from '../records/records-service.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { SqlEngine } from '../sql/sql.ts'
import type { SigningKeyJson } from '../security/signatures/session-key.ts'
import '../auth/request.ts'
import { recordAuthOrigin } from './record-auth-alert.ts'
import { checkMfa } from './record-auth-mfa.ts'

/** Options of the record-auth plugin (`src/api/record-auth.ts`). */
export interface RecordAuthOptions {
  registry: CollectionRegistry
  /** Where the confirm endpoints write (password reset, verification, email change): the one write path. */
  records: RecordsService
  /** The engine auth endpoints read and write (the primary: logins must see a just-changed password). */
  db: () => Pick<SqlEngine, 'db' | 'capabilities' | 'query'>
  mail: Mailer
  authenticate: Authenticate
  /** Where background mail failures are logged; defaults to the Fastify logger. */
  log?: Pick<Logger, 'error' | 'warn' | 'info'>
  /**
   * The public base URL mail links point to, e.g. `https://api.example.com`.
   * NB: from configuration, never from the request's Host header (that would let anyone send a
   * victim a reset link pointing at their own server).
   */
  appUrl: string
  /** Shown in mail subjects and signatures; default 'Plinth'. */
  appName?: string
  /** The app name and URL in force, read per mail (the settings' `meta`, src/settings/); wins over the two above. */
  meta?: () => MailApp
  /** How long a resend of the same verification/reset mail is refused, ms (PocketBase: 2 minutes). */
  resendWindowMs?: number
  /** Where the resend windows of auth mails are kept (shared across nodes when the engine is). */
  counters: Counters
  /**
   * The brute-force limits on password checks, counted in the counters port (shared across nodes
   * when that is). One per app: the records service's password-change check uses the same one.
   */
  throttle: AuthThrottle
  /** With request signing on: the session signing key each auth response carries (security/signatures/session-key.ts). */
  signingKey?: (collection: AuthCollection, token: string) => SigningKeyJson
  /**
   * Extension point of `GET /auth-methods`: each function fills in its feature's part of the report
   * (the oauth2 feature its `oauth2` providers and the legacy `authProviders`; others may add keys).
   */
  authMethods?: AuthMethodsFiller[]
}

/** PocketBase's `auth-methods` answer (plus the pre-0.23 keys older SDKs read). */
export interface AuthMethodsReport {
  password: { enabled: boolean; identityFields: string[] }
  oauth2: { enabled: boolean; providers: unknown[] }
  mfa: { enabled: boolean; duration: number }
  otp: { enabled: boolean; duration: number }
  authProviders: unknown[]
  usernamePassword: boolean
  emailPassword: boolean
  [more: string]: unknown
}

export type AuthMethodsFiller = (collection: AuthCollection, report: AuthMethodsReport, request: FastifyRequest) => void | Promise<void>

/** What the collection's own options say: durations only for methods that are on, as PocketBase reports them. */
export function authMethodsReport(c: AuthCollection): AuthMethodsReport {
  const password = { enabled: c.passwordAuth.enabled, identityFields: c.passwordAuth.enabled ? [...c.passwordAuth.identityFields] : [] }
  return {
    password,
    oauth2: { enabled: false, providers: [] },
    mfa: { enabled: c.mfa.enabled, duration: c.mfa.enabled ? c.mfa.duration : 0 },
    otp: { enabled: c.otp.enabled, duration: c.otp.enabled ? c.otp.duration : 0 },
    authProviders: [],
    usernamePassword: password.enabled && password.identityFields.includes('username'),
    emailPassword: password.enabled && password.identityFields.includes('email'),
  }
}

export interface AuthResponseBody {
  token: string
  record: RecordJson
  meta?: unknown
  signingKey?: SigningKeyJson
}

/**
 * Starts one password check under the brute-force limits. Over a limit it throws PocketBase's
 * 429, whose `Retry-After` (seconds) the error handler sets.
 */
export type BeginAttempt = (request: FastifyRequest, collection: AuthCollection, identity: string) => Promise<AuthAttempt>

export function attemptStarter(opts: RecordAuthOptions): BeginAttempt {
  const { throttle } = opts
  // request.clientIp reads a forwarded header only from a trusted proxy (api/client-ip.ts).
  return (request, collection, identity) => throttle.begin(collection.id, identity, request.clientIp)
}

/** The auth collection named in the path, or PocketBase's 404. */
export function authCollection(opts: RecordAuthOptions, idOrName: string): AuthCollection {
  const c = opts.registry.get(idOrName)
  if (!c || !isAuthCollection(c)) throw new ApiError('not_found', 'Missing or invalid auth collection context.')
  return c
}

/** The request's auth: what the root hook set, or computed here when the plugin runs without it. */
export async function requestAuth(opts: RecordAuthOptions, request: FastifyRequest): Promise<AuthInfo | null> {
  if (request.auth !== undefined) return request.auth
  request.auth = await opts.authenticate(request)
  return request.auth
}

/** PocketBase's RequireSameCollectionContextAuth: a valid token of this very collection. */
export async function requireSameCollectionAuth(opts: RecordAuthOptions, request: FastifyRequest, collection: AuthCollection): Promise<AuthInfo> {
  const auth = await requestAuth(opts, request)
  if (!auth) throw new ApiError('unauthorized', 'The request requires valid record authorization token.')
  if (auth.collection.id !== collection.id) throw new ApiError('forbidden', 'The request requires auth record from the same collection.')
  return auth
}

export function mailApp(opts: RecordAuthOptions): MailApp {
  return opts.meta?.() ?? { appName: opts.appName ?? 'Plinth', appUrl: opts.appUrl }
}

export function isSuperusers(collection: AuthCollection): boolean {
  return collection.name === SUPERUSERS
}

/** How `respondWithAuth` answers beyond the record. */
export interface AuthResponseOptions {
  /**
   * The sign-in method that just succeeded ('password', 'otp', 'oauth2', 'sms', ...): MFA and the
   * login alert key on it. '' (the default) skips both: a refresh or an impersonation.
   */
  method?: string
  /** A token to answer with; by default a fresh refreshable auth token. */
  token?: string
  /** Sent as `meta` beside token and record (OAuth2's provider data), when given. */
  meta?: unknown
}

/**
 * PocketBase's auth response, the one end of every sign-in: the collection's authRule (after the
 * credentials were checked), then MFA (`record-auth-mfa.ts`: a first factor answers 401 with
 * `{mfaId}`; the request's `mfaId` completes it), then the login alert, then `{token, record}`.
 *
 * Extension point: a sign-in method only checks its own credentials and calls this with its
 * `method` name; MFA across methods and alerts come with it. The `mfaId` is read from the
 * request's body or query, so a method's body schema need not list it.
 */
export async function respondWithAuth(
  opts: RecordAuthOptions,
  request: FastifyRequest,
  collection: AuthCollection,
  row: Row,
  body: Record<string, unknown>,
  context: string,
  how: AuthResponseOptions = {},
): Promise<AuthResponseBody> {
  const record = rowToRecord(collection, row)
  const info = authRequestInfo(request, await requestAuth(opts, request), body, context)
  if (!(await passesAuthRule({ registry: opts.registry, engine: opts.db() }, collection, record.id, info))) {
    throw new ApiError('forbidden', "The request doesn't satisfy the collection requirements to authenticate.")
  }
  const method = how.method ?? ''
  await checkMfa(opts, request, collection, record.id, method, info)
  if (method && collection.authAlert.enabled) {
    await recordAuthOrigin(opts, request, collection, row).catch((err: unknown) =>
      (opts.log ?? request.log).warn({ err, collection: collection.name }, 'failed to record the sign-in origin or send the login alert'),
    )
  }
  const issued = how.token ?? (await signRecordToken(collection, { id: record.id, tokenKey: rowString(row, 'tokenKey') }, 'auth'))
  const out: AuthResponseBody = { token: issued, record: publicAuthRecord(collection, record, isSuperusers(collection)) }
  // `@files` (CDN URLs of file fields) as on every other record response.
  opts.records.decorate?.(collection, [out.record])
  if (how.meta !== undefined) out.meta = how.meta
  const signingKey = opts.signingKey?.(collection, issued)
  if (signingKey) out.signingKey = signingKey
  return pickResponseFields(request.query, out)
}

/**
 * Refuses a resend of the same mail for a while (PocketBase keeps this in its in-process store).
 * Kept in the counters port, so with several API nodes (counters on Redis) a client gets one mail
 * per window, not one per node.
 */
export class ResendGuard {
  constructor(
    private readonly counters: Counters,
    private readonly windowMs: number,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  /**
   * True if `key` was not used within the window; marks it used. NB: with the counters engine
   * unreachable the answer is false (no mail) and a warning, never an error: the endpoints answer
   * 204 whether or not the account exists, and a 503 only for existing ones would tell which do.
   */
  async take(key: string): Promise<boolean> {
    try {
      return await this.counters.setIfAbsent(`auth:resend:${key}`, '1', this.windowMs)
    } catch (err) {
      this.log.warn({ err }, 'auth mail not sent: the counters engine is unavailable')
      return false
    }
  }

  /** Lets the next request send again (the send failed). */
  async clear(key: string): Promise<void> {
    await this.counters.delete(`auth:resend:${key}`).catch(() => undefined)
  }
}
