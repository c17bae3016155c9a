import type { FastifyRequest } from 'fastify'
import type { PlinthConfig } from '../config/schema.ts'
import type { Counters } from '../counters/counters.ts'
import { CountersUnavailableError } from '../counters/errors.ts'
import { ipBucket, TooManyAttempts } from '../auth/throttle.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import { ipAllowList } from './metrics.ts'
import '../auth/request.ts'

type Rule = PlinthConfig['rateLimits']['rules'][number]

/** One request (or one request inside a batch) as the limiter sees it. */
export interface LimitSubject {
  method: string
  /** The path without the query string. */
  path: string
  /** The collection named in the path (id or name), for `name:action` labels. */
  collection?: string
  /** The action tags of the route (`view`, `create`, `authWithPassword` + `auth`, ...). */
  tags: readonly string[]
}

/**
 * PocketBase's action tags per route (its `collectionPathRateLimit` / `checkCollectionRateLimit`
 * calls), keyed by method and Fastify route pattern.
 */
const routeTags: Record<string, readonly string[]> = {
  'GET /api/collections/:collection/records': ['list'],
  'GET /api/collections/:collection/records/:id': ['view'],
  'POST /api/collections/:collection/records': ['create'],
  'PATCH /api/collections/:collection/records/:id': ['update'],
  'DELETE /api/collections/:collection/records/:id': ['delete'],
  'GET /api/collections/:collection/auth-methods': ['listAuthMethods'],
  'POST /api/collections/:collection/auth-refresh': ['authRefresh'],
  'POST /api/collections/:collection/auth-with-password': ['authWithPassword', 'auth'],
  'POST /api/collections/:collection/auth-with-oauth2': ['authWithOAuth2', 'auth'],
  'POST /api/collections/:collection/request-otp': ['requestOTP'],
  'POST /api/collections/:collection/auth-with-otp': ['authWithOTP', 'auth'],
  'POST /api/collections/:collection/request-password-reset': ['requestPasswordReset'],
  'POST /api/collections/:collection/confirm-password-reset': ['confirmPasswordReset'],
  'POST /api/collections/:collection/request-verification': ['requestVerification'],
  'POST /api/collections/:collection/confirm-verification': ['confirmVerification'],
  'POST /api/collections/:collection/request-email-change': ['requestEmailChange'],
  'POST /api/collections/:collection/confirm-email-change': ['confirmEmailChange'],
  'GET /api/files/:collection/:recordId/:filename': ['file'],
}

/** A 429 from a rate limit rule; `first` for the first refusal of its window (audited once). */
export class RateLimited extends TooManyAttempts {
  constructor(
    retryAfterSeconds: number,
    readonly first: boolean,
  ) {
    super(retryAfterSeconds)
  }
}

const guestAudience = new Set(['', '@guest'])
const authAudience = new Set(['', '@auth'])

/**
 * Request limits per route, PocketBase's `rateLimits`, counted in the counters port, so every
 * node sees the same counts when the counters are on Redis.
 *
 * A request gets its labels, most specific first: `name:action` tags of its collection, then
 * `*:action`, then `METHOD /path`, then `/path`. The first label that some rule names exactly
 * (for the caller's audience) picks that rule; else the first rule whose label ends with `/` and
 * is a prefix of the label. One rule, one counter per request: a fixed window of `duration`
 * seconds, per signed-in record or, for guests, per address (an IPv6 /64). Over it: 429 with
 * `Retry-After` (the seconds until the window ends). Superusers and `excludedIPs` are not counted.
 *
 * Each record request inside `/api/batch` is counted as if sent alone, besides the batch itself.
 */
export class RateLimiter {
  #exact = new Map<string, Rule[]>()
  #prefix: Rule[] = []
  #excluded: (ip: string) => boolean = () => false
  #enabled = true
  #warnedAt = 0

  constructor(
    private readonly counters: Counters,
    private readonly registry: CollectionRegistry,
    config: PlinthConfig['rateLimits'],
  ) {
    this.reconfigure(config)
  }

  /** Whether requests are counted at all (`rateLimits.enabled`). */
  get enabled(): boolean {
    return this.#enabled
  }

  /**
   * Takes new rules (a settings change, src/settings/): requests from now on are counted by them.
   * Counters already running keep their windows (a rule's key is its label and audience).
   */
  reconfigure(config: PlinthConfig['rateLimits']): void {
    const exact = new Map<string, Rule[]>()
    const prefix: Rule[] = []
    for (const rule of config.rules) {
      const list = exact.get(rule.label) ?? []
      list.push(rule)
      exact.set(rule.label, list)
      if (rule.label.endsWith('/')) prefix.push(rule)
    }
    this.#exact = exact
    this.#prefix = prefix
    this.#excluded = config.excludedIPs.length ? ipAllowList(config.excludedIPs) : () => false
    this.#enabled = config.enabled
  }

  /** The subject of a routed request, from its route pattern (no tags for routes PocketBase does not tag). */
  subjectOf(request: FastifyRequest): LimitSubject {
    const q = request.url.indexOf('?')
    const pattern = request.routeOptions.url
    const tags = pattern === undefined ? undefined : routeTags[`${request.method} ${pattern}`]
    return {
      method: request.method,
      path: q < 0 ? request.url : request.url.slice(0, q),
      collection: tags ? (request.params as { collection?: string }).collection : undefined,
      tags: tags ?? [],
    }
  }

  /** Counts one request of `request`'s caller against its rule; throws 429 when over it. */
  async check(request: FastifyRequest, subject: LimitSubject = this.subjectOf(request)): Promise<void> {
    const auth = request.auth
    if (!this.#enabled || auth?.isSuperuser || this.#excluded(request.clientIp)) return
    const collection = subject.collection === undefined ? undefined : this.registry.get(subject.collection)
    const rule = this.#find(labels(subject, collection?.name), auth ? authAudience : guestAudience)
    if (!rule) return
    const who = auth ? `rec:${auth.collection.id}:${String(auth.record.id)}` : `ip:${ipBucket(request.clientIp)}`
    // As PocketBase: a collection route's rule counts per collection and action.
    const scope = collection ? `${collection.id}:${subject.tags[0] ?? ''}` : ''
    const windowMs = rule.duration * 1000
    let state
    try {
      state = await this.counters.increment(`rl:${rule.label}${rule.audience ?? ''}:${scope}:${who}`, windowMs)
    } catch (err) {
      if (!(err instanceof CountersUnavailableError)) throw err
      // Fails open: with the counters' Redis down, refusing every request would take the whole API
      // down with it. The limits whose breach costs money or opens accounts (password and OTP
      // throttles, SMS sends, signature nonces) fail closed on their own. Said once a minute.
      if (Date.now() - this.#warnedAt > 60_000) {
        this.#warnedAt = Date.now()
        request.log.warn({ err }, 'rate limits: counters unavailable, requests are not being counted')
      }
      return
    }
    if (state.count > rule.maxRequests) throw new RateLimited(Math.ceil(state.ttlMs / 1000), state.count === rule.maxRequests + 1)
  }

  #find(searched: string[], audience: ReadonlySet<string>): Rule | undefined {
    for (const label of searched) {
      const exact = this.#exact.get(label)?.find((r) => audience.has(r.audience ?? ''))
      if (exact) return exact
      const slashed = `${label}/`
      const prefix = this.#prefix.find((r) => slashed.startsWith(r.label) && audience.has(r.audience ?? ''))
      if (prefix) return prefix
    }
    return undefined
  }
}

/** PocketBase's labels for a request, most specific first. */
function labels(subject: LimitSubject, collectionName: string | undefined): string[] {
  const out: string[] = []
  if (collectionName !== undefined) for (const tag of subject.tags) out.push(`${collectionName}:${tag}`)
  for (const tag of subject.tags) out.push(`*:${tag}`)
  out.push(`${subject.method} ${subject.path}`, subject.path)
  return out
}
