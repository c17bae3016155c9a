import { isIPv4, isIPv6 } from 'node:net'
import type { Counters } from '../counters/counters.ts'
import { ApiError } from '../errors.ts'

/**
 * Brute-force limits on password checks, counted in the counters port (so every API node sees
 * the same counts once the counters are shared).
 *
 * Two fixed windows are counted per attempt: one per identity (collection + lowercased identity,
 * so guessing one account's password from many addresses is slow) and one per client address
 * (so trying one common password on many accounts from one address is slow). Past either limit
 * the answer is 429 with `Retry-After`, before the password is even checked, so a locked account
 * does not tell whether a guess was right.
 *
 * NB: a slot is taken BEFORE the password is checked and given back on success. Counting only
 * after a failure would let a burst of concurrent guesses all pass the check before the first
 * failure is recorded; taking the slot first (an atomic increment) bounds a burst too.
 */
export interface AuthThrottleLimits {
  /** Failed attempts allowed per identity per window; 0 turns this limit off. */
  perIdentity: number
  /** Failed attempts allowed per client address (an IPv6 /64) per window; 0 turns this limit off. */
  perIp: number
  /** The window, in seconds: counting starts at the first failure and the lock lifts when it ends. */
  windowSeconds: number
}

/**
 * 5 failures per account per 15 minutes, 100 per address per 15 minutes. PocketBase's built-in
 * limiter (off by default there) allows `*:auth` 2 requests per 3 seconds per IP, i.e. up to 600
 * guesses per 15 minutes; this is stricter per address and adds the per-account limit it lacks.
 * The per-address limit stays well above what one office or carrier NAT of honest users mistypes.
 */
export const DEFAULT_AUTH_THROTTLE: AuthThrottleLimits = { perIdentity: 5, perIp: 100, windowSeconds: 900 }

/** One password check in progress: report a success so it does not count as a failure. */
export interface AuthAttempt {
  succeeded(): Promise<void>
}

/** PocketBase's 429 body, plus the `Retry-After` the caller sets (seconds). */
export class TooManyAttempts extends ApiError {
  constructor(
    override readonly retryAfterSeconds: number,
    message = 'Too Many Requests.',
  ) {
    super('too_many_requests', message)
  }
}

/** Told once when an identity or an address goes over its limit (for the log). */
export type OnLock = (what: 'identity' | 'ip', collectionId: string, ip: string) => void

/** The one log line a lock gets, wherever a throttle is made. */
export const logLocks =
  (log: { warn(obj: object, msg: string): void }): OnLock =>
  (what, collectionId, ip) =>
    log.warn({ collectionId, ip, limit: what }, `password attempts throttled (${what} over its limit)`)

export class AuthThrottle {
  constructor(
    private readonly counters: Counters,
    private readonly limits: AuthThrottleLimits,
    private readonly onLock?: OnLock,
  ) {}

  /**
   * Takes one attempt for `identity` of `collectionId` from `ip`. Throws TooManyAttempts when the
   * address or the identity is over its limit; otherwise the caller checks the password and
   * calls `succeeded()` when it was right (a failure needs nothing: the slot stays taken).
   */
  async begin(collectionId: string, identity: string, ip: string): Promise<AuthAttempt> {
    const windowMs = this.limits.windowSeconds * 1000
    const ipKey = this.limits.perIp > 0 ? `auth:fail:ip:${ipBucket(ip)}` : undefined
    const idKey = this.limits.perIdentity > 0 ? `auth:fail:id:${collectionId}:${identity.toLowerCase()}` : undefined
    if (ipKey) {
      const byIp = await this.counters.increment(ipKey, windowMs)
      // An address over its limit does not get to touch (or lock) identities any further.
      if (byIp.count > this.limits.perIp) {
        if (byIp.count === this.limits.perIp + 1) this.onLock?.('ip', collectionId, ipBucket(ip))
        throw new TooManyAttempts(Math.ceil(byIp.ttlMs / 1000))
      }
    }
    if (idKey) {
      const byId = await this.counters.increment(idKey, windowMs)
      if (byId.count > this.limits.perIdentity) {
        if (byId.count === this.limits.perIdentity + 1) this.onLock?.('identity', collectionId, ipBucket(ip))
        throw new TooManyAttempts(Math.ceil(byId.ttlMs / 1000))
      }
    }
    return {
      succeeded: async () => {
        // The address gets back only the slot this attempt took: a success must not wipe its
        // failures, or one account the attacker owns would reset its address between guesses.
        if (ipKey) await this.counters.increment(ipKey, windowMs, -1)
        // The identity's failures are forgotten: whoever just got in knows the password, so
        // earlier failures were that person's typos. An attacker gains a fresh budget only each
        // time the real owner signs in, which still bounds guessing per window.
        if (idKey) await this.counters.delete(idKey)
      },
    }
  }
}

/**
 * The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64,
 * because one subscriber usually holds a whole /64 and could otherwise rotate addresses freely.
 */
export function ipBucket(ip: string): string {
  const bare = ip.replace(/%.*$/, '') // zone id
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!
  if (isIPv4(bare) || !isIPv6(bare)) return bare
  const [head = '', tail] = bare.split('::') as [string, string | undefined]
  const groups = (s: string) => (s ? s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : [])
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const full = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return `${full.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`
}
