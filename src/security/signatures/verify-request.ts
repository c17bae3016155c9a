/**
 * Plinth's policy for signed requests, on top of the RFC 9421 module: which components a
 * signature must cover, the `created`/`expires` window, nonces used once across every node (the
 * counters port), the key the `keyid` names, and the Content-Digest against the bytes received.
 *
 * Each failure is an ApiError whose code says which check failed (missing, bad digest, expired,
 * replayed, unknown key, bad signature) and nothing about which bytes differed.
 */
import { createHash } from 'node:crypto'
import { ApiError } from '../../errors.ts'
import type { Counters } from '../../counters/counters.ts'
import { checkContentDigest, type DigestAlgorithm } from './content-digest.ts'
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
  /** Digests of the body bytes received, when there was a body. */
  body?: { length: number; digests: Readonly<Record<DigestAlgorithm, Uint8Array>> }
}

/** Finds the key a `keyid` names for this request; undefined when unknown or not this caller's. */
export type KeyResolver = (keyid: string) => Promise<SignatureKey | undefined> | SignatureKey | undefined

export interface VerifyDeps {
  counters: Pick<Counters, 'setIfAbsent'>
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
  if (req.body && req.body.length > 0 && !covered.has('content-digest')) throw missing('The request signature must cover content-digest.')
  if (req.header('authorization') !== undefined && !covered.has('authorization')) throw missing('The request signature must cover authorization.')
}

/**
 * Checks the request's signature under `mode`. Resolves when the request may go on (verified, or
 * unsigned where that is allowed); throws an ApiError otherwise. The nonce is spent only once the
 * signature verified, so nobody can burn another client's nonces with forged requests.
 */
export async function verifyRequestSignature(req: IncomingSignedRequest, mode: SignatureMode, deps: VerifyDeps): Promise<'verified' | 'unsigned'> {
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
  const alg = sig.param('alg')
  if (typeof created !== 'number' || typeof nonce !== 'string' || typeof keyid !== 'string') {
    throw missing('The request signature must carry created, nonce and keyid.')
  }
  if (!nonce || nonce.length > MAX_NONCE || !keyid || keyid.length > MAX_KEYID) throw new ApiError('signature_bad', 'The request signature parameters are malformed.')
  checkCoverage(req, sig)
  const now = Math.floor((deps.now?.() ?? Date.now() / 1000))
  if (Math.abs(now - created) > deps.maxSkewSeconds) throw new ApiError('signature_expired')
  if (expires !== undefined && (typeof expires !== 'number' || expires < now)) throw new ApiError('signature_expired')
  const found = deps.resolveKey(keyid)
  const key = found instanceof Promise ? await found : found // a session key is found without waiting
  if (!key) throw new ApiError('signature_unknown_key')
  if (alg !== undefined && alg !== key.alg) throw new ApiError('signature_bad')
  let base: string
  try {
    base = signatureBase(req, sig.input)
  } catch (err) {
    if (err instanceof SignatureBaseError) throw missing('The request lacks a component its signature covers.')
    throw err
  }
  if (!verifyBase(key, base, sig.signature)) throw new ApiError('signature_bad')
  const digestField = req.header('content-digest')
  if (sig.input.components.includes('content-digest')) {
    const field = Array.isArray(digestField) ? digestField.join(', ') : digestField
    if (field === undefined || !checkContentDigest(field, req.body?.digests ?? EMPTY_BODY)) throw new ApiError('signature_bad_digest')
  }
  // Kept a little longer than a signature can be accepted, so a replay always finds it.
  const ttlMs = (2 * deps.maxSkewSeconds + 1) * 1000
  if (!(await deps.counters.setIfAbsent(`sig:nonce:${keyid}:${nonce}`, '1', ttlMs))) throw new ApiError('signature_replayed')
  return 'verified'
}

function sha(data: string, alg: 'sha256' | 'sha512' = 'sha256'): Uint8Array {
  return new Uint8Array(createHash(alg).update(data).digest())
}

/** The digests of an empty body (a request without one). */
const EMPTY_BODY: Readonly<Record<DigestAlgorithm, Uint8Array>> = Object.freeze({ 'sha-256': sha(''), 'sha-512': sha('', 'sha512') })
