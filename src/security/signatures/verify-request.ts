/**
 * Plinth's policy for signed requests, on top of the RFC 9421 module: which components a
 * signature must cover, the `created`/`expires` window, nonces used once across every node (the
 * counters port), the key the `keyid` names, and the Content-Digest against the bytes received.
 *
 * Each failure is an ApiError whose code says which check failed (missing, bad digest, expired,
 * replayed, unknown key, bad signature) and nothing about which bytes differed.
 */
import { ApiError } from '../../errors.ts'
import type { Counters } from '../../counters/counters.ts'
import { bodyDigests, checkContentDigest, type BodyDigests } from './content-digest.ts'
import { parseSignatures, signatureBase, SignatureBaseError, verifyBase, type ParsedSignature, type SignatureKey, type SignedMessage } from './rfc9421.ts'

export type SignatureMode = 'off' | 'optional' | 'required'

export interface SignatureSettings {
  mode: SignatureMode
  routes: Readonly<Record<string, SignatureMode>>
  maxSkewSeconds: number
}

/** The mode for a path: the longest matching prefix in `routes`, else `mode`. */
export function modeFor(settings: SignatureSettings, path: string): SignatureMode {
  let best: string | undefined
  for (const prefix of Object.keys(settings.routes)) {
    if (path.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix
  }
  return best === undefined ? settings.mode : settings.routes[best]!
}

/** True when some route may verify signatures (auth responses then carry a signing key). */
export function signingEnabled(settings: SignatureSettings): boolean {
  return settings.mode !== 'off' || Object.values(settings.routes).some((m) => m !== 'off')
}

/** A request as the policy sees it. */
export interface IncomingSignedRequest extends SignedMessage {
  method: string
  targetUri: string
  /** True when the request carries a valid auth token (then `required` applies). */
  authenticated: boolean
  /** True when a body follows the headers (then the signature must cover content-digest). */
  hasBody: boolean
}

/** Finds the key a `keyid` names for this request; undefined when unknown or not this caller's. */
export type KeyResolver = (keyid: string) => Promise<SignatureKey | undefined> | SignatureKey | undefined

export interface VerifyDeps {
  counters: Pick<Counters, 'spendOnce'>
  resolveKey: KeyResolver
  maxSkewSeconds: number
  /** Seconds since the epoch (tests move the clock). */
  now?: () => number
}

const MAX_NONCE = 128
const MAX_KEYID = 128

function missing(message?: string): ApiError {
  return new ApiError('signature_missing', message)
}

/** The covered components Plinth demands, or a `signature_missing` error. */
function checkCoverage(req: IncomingSignedRequest, sig: ParsedSignature): void {
  const components = sig.input.components
  const covered = { has: (c: string) => components.includes(c) } // a handful of names: no Set per request
  if (!covered.has('@method')) throw missing('The request signature must cover @method.')
  const hasQuery = req.targetUri.includes('?')
  const targetCovered = covered.has('@target-uri') || (covered.has('@authority') && covered.has('@path') && (!hasQuery || covered.has('@query')))
  if (!targetCovered) throw missing('The request signature must cover @target-uri (or @authority, @path and @query).')
  if (req.hasBody && !covered.has('content-digest')) throw missing('The request signature must cover content-digest.')
  if (req.header('authorization') !== undefined && !covered.has('authorization')) throw missing('The request signature must cover authorization.')
}

/**
 * Checks the request's signature under `mode`, body included (`body`: the received body's
 * digests; none for a request without one). Resolves when the request may go on (verified, or
 * unsigned where that is allowed); rejects with an ApiError otherwise. The two phases below in one
 * call: the HTTP edge runs them apart, so a forged signature is refused before the body is read.
 */
export function verifyRequestSignature(req: IncomingSignedRequest, mode: SignatureMode, deps: VerifyDeps, body?: BodyDigests): Promise<'verified' | 'unsigned'> {
  return checkSignedHeaders(req, mode, deps).then((checked) => (checked === 'unsigned' ? checked : finishSignature(checked, body, deps)))
}

/** A signature that verified over the request's headers; its body's digest and nonce are still to check. */
export interface HeadersVerified {
  /** The Content-Digest field the signature covers, or undefined when it covers none. */
  digestField: string | undefined
  /** Where the nonce is spent, and for how long (`nonceTtlMs`). */
  nonce: { key: string; ttlMs: number }
}

/**
 * Phase one, before the body is read: the fields, the covered components, the time window, the
 * key and the signature itself. 'unsigned' when an unsigned request is allowed. NB: not an `async`
 * function: everything but a device key's lookup is synchronous, and a request skips the promises
 * an async function would add (this runs on every signed request).
 */
export function checkSignedHeaders(req: IncomingSignedRequest, mode: SignatureMode, deps: VerifyDeps): Promise<'unsigned' | HeadersVerified> {
  try {
    const checked = checkSignature(req, mode, deps)
    if (typeof checked === 'string') return Promise.resolve(checked)
    if (checked instanceof Promise) return checked.then((c) => verifySignature(req, c))
    return Promise.resolve(verifySignature(req, checked))
  } catch (err) {
    return Promise.reject(err)
  }
}

/**
 * Phase two, once the body was read: the body's digests (none: an empty body) against the covered
 * Content-Digest, then the nonce, spent once across every node sharing the counters. Only a
 * request whose signature verified gets here, so nobody can burn another client's nonces with
 * forged requests.
 */
export function finishSignature(verified: HeadersVerified, body: BodyDigests | undefined, deps: Pick<VerifyDeps, 'counters'>): Promise<'verified'> {
  const field = verified.digestField
  if (field !== undefined && !checkContentDigest(field, body ?? EMPTY_BODY)) return Promise.reject(new ApiError('signature_bad_digest'))
  return deps.counters.spendOnce(verified.nonce.key, verified.nonce.ttlMs).then((fresh) => {
    if (!fresh) throw new ApiError('signature_replayed')
    return 'verified'
  })
}

interface Checked {
  sig: ParsedSignature
  /** The key the signature's keyid names; undefined when none is this caller's. */
  key: SignatureKey | undefined
  nonce: HeadersVerified['nonce']
}

/** Every check but the key's signature and the nonce: 'unsigned' when that is allowed. */
function checkSignature(req: IncomingSignedRequest, mode: SignatureMode, deps: VerifyDeps): 'unsigned' | Checked | Promise<Checked> {
  if (mode === 'off') return 'unsigned'
  let sigs: ParsedSignature[]
  try {
    sigs = parseSignatures(req)
  } catch {
    throw new ApiError('signature_bad', 'The request signature fields are malformed.')
  }
  const sig = sigs[0]
  if (!sig) {
    if (mode === 'required' && req.authenticated) throw missing()
    if (req.header('signature-input') !== undefined || req.header('signature') !== undefined) throw missing()
    return 'unsigned'
  }
  const created = sig.param('created')
  const expires = sig.param('expires')
  const nonce = sig.param('nonce')
  const keyid = sig.param('keyid')
  if (typeof created !== 'number' || typeof nonce !== 'string' || typeof keyid !== 'string') {
    throw missing('The request signature must carry created, nonce and keyid.')
  }
  if (!nonce || nonce.length > MAX_NONCE || !keyid || keyid.length > MAX_KEYID) throw new ApiError('signature_bad', 'The request signature parameters are malformed.')
  checkCoverage(req, sig)
  const now = deps.now?.() ?? Date.now() / 1000
  const nowSec = Math.floor(now)
  if (Math.abs(nowSec - created) > deps.maxSkewSeconds) throw new ApiError('signature_expired')
  if (expires !== undefined && (typeof expires !== 'number' || expires < nowSec)) throw new ApiError('signature_expired')
  const toSpend = { key: `sig:nonce:${keyid}:${nonce}`, ttlMs: nonceTtlMs(created, expires, now, deps.maxSkewSeconds) }
  const found = deps.resolveKey(keyid)
  return found instanceof Promise ? found.then((key) => ({ sig, key, nonce: toSpend })) : { sig, key: found, nonce: toSpend } // a session key is found without waiting
}

/** Checks the signature with the key its keyid names; what is left to check after the body is read. */
function verifySignature(req: IncomingSignedRequest, checked: Checked): HeadersVerified {
  const { sig, key, nonce } = checked
  if (!key) throw new ApiError('signature_unknown_key')
  const alg = sig.param('alg')
  if (alg !== undefined && alg !== key.alg) throw new ApiError('signature_bad')
  let base: string
  try {
    base = signatureBase(req, sig.input)
  } catch (err) {
    if (err instanceof SignatureBaseError) throw missing('The request lacks a component its signature covers.')
    throw err
  }
  if (!verifyBase(key, base, sig.signature)) throw new ApiError('signature_bad')
  if (!sig.input.components.includes('content-digest')) return { digestField: undefined, nonce }
  const field = req.header('content-digest')
  // NB: a covered field the request lacks fails in signatureBase above.
  return { digestField: Array.isArray(field) ? field.join(', ') : field, nonce }
}

/**
 * Seconds a nonce outlives the last moment this node would accept it: another node whose clock is
 * behind this one's by up to this much must still find it. NTP keeps servers' clocks within
 * milliseconds; a node further off than this could accept a replay near the end of the window.
 */
export const NODE_CLOCK_MARGIN_SECONDS = 30

/**
 * How long a nonce is kept: until no request carrying it can be accepted any more, that is until
 * the end of the second `created` + maxSkewSeconds (or `expires`, when that is sooner), plus
 * NODE_CLOCK_MARGIN_SECONDS. A client whose clock agrees with the server's has its nonces kept
 * about maxSkewSeconds + 31 s instead of 2 x maxSkewSeconds + 1 s from the check, which nearly halves
 * what the counters hold for the same traffic (with the default 300 s).
 */
function nonceTtlMs(created: number, expires: number | undefined, nowSeconds: number, maxSkewSeconds: number): number {
  const lastAccepted = typeof expires === 'number' ? Math.min(created + maxSkewSeconds, expires) : created + maxSkewSeconds
  return Math.max(1000, Math.ceil((lastAccepted + 1 + NODE_CLOCK_MARGIN_SECONDS - nowSeconds) * 1000))
}

/** The digests of an empty body (a request without one). */
const EMPTY_BODY = bodyDigests('')
