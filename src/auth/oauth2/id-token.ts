/**
 * ID tokens (OpenID Connect, Sign in with Apple): signature against the vendor's JWKS, then iss,
 * aud and exp. jose is loaded on first use, so a server without OAuth2 never pays for it.
 */
import { OAuth2Error } from './provider.ts'

type Jose = typeof import('jose')
type RemoteSet = ReturnType<Jose['createRemoteJWKSet']>

/** PocketBase's idTokenLeeway: clock skew allowed on exp/iat/nbf. */
const LEEWAY_SECONDS = 5 * 60
/** Key sets by URL; jose refreshes each on an unknown kid (at most every 30 s) and caches it 10 min. */
const sets = new Map<string, RemoteSet>()
const MAX_SETS = 64

let jose: Promise<Jose> | undefined
export function loadJose(): Promise<Jose> {
  jose ??= import('jose')
  return jose
}

export interface IdTokenCheck {
  jwksURL: string
  /** Accepted `iss` values; empty = not checked (an OIDC provider configured without one). */
  issuers: string[]
  audience: string
}

/** The verified claims; an OAuth2Error saying which check failed otherwise. */
export async function verifyIdToken(idToken: string, check: IdTokenCheck): Promise<Record<string, unknown>> {
  if (!idToken) throw new OAuth2Error('empty id_token')
  const j = await loadJose()
  let set = sets.get(check.jwksURL)
  if (!set) {
    if (sets.size >= MAX_SETS) sets.delete(sets.keys().next().value!)
    set = j.createRemoteJWKSet(new URL(check.jwksURL), { timeoutDuration: 15_000 })
    sets.set(check.jwksURL, set)
  }
  try {
    const { payload } = await j.jwtVerify(idToken, set, {
      audience: check.audience,
      ...(check.issuers.length ? { issuer: check.issuers } : {}),
      clockTolerance: LEEWAY_SECONDS,
      requiredClaims: ['exp', 'sub'],
    })
    return payload as Record<string, unknown>
  } catch (err) {
    throw new OAuth2Error(`id_token rejected: ${(err as Error).message}`)
  }
}
