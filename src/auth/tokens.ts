import { decodeUnverified, signHs256, verifyHs256 } from './jwt.ts'
import { randomString } from '../records/fields/random.ts'
import type { AuthCollection, TokenConfig } from '../records/model.ts'

/**
 * Record tokens: HS256 JWTs with PocketBase's claims, so its SDKs read them unchanged
 * (`exp`, `type`, `id`, `collectionId`, plus `refreshable` / `email` / `newEmail` by kind).
 *
 * NB: every token is signed with `record.tokenKey + collection.<kind>Token.secret`. The per-record
 * half means changing a record's tokenKey (done on every password change) revokes all of its
 * older tokens on every node at once, with no shared revocation list; the per-collection half
 * means rotating a collection secret revokes every token of that kind.
 */
export type TokenType = 'auth' | 'file' | 'verification' | 'passwordReset' | 'emailChange'

export interface TokenClaims {
  id: string
  collectionId: string
  type: TokenType
  exp: number
  refreshable?: boolean
  email?: string
  newEmail?: string
}

/**
 * NB: a new tokenKey, PocketBase's `[a-zA-Z0-9]{50}`. Writing it revokes every token the record
 * holds (they are signed with the old key), on every node, at once.
 */
export function newTokenKey(): string {
  return randomString(50)
}

/** The parts of an auth record that tokens need. */
export interface TokenSubject {
  id: string
  tokenKey: string
  email?: string
}

const types: readonly TokenType[] = ['auth', 'file', 'verification', 'passwordReset', 'emailChange']

function configFor(collection: AuthCollection, type: TokenType): TokenConfig {
  switch (type) {
    case 'auth':
      return collection.authToken
    case 'file':
      return collection.fileToken
    case 'verification':
      return collection.verificationToken
    case 'passwordReset':
      return collection.passwordResetToken
    case 'emailChange':
      return collection.emailChangeToken
  }
}

/** NB: key material. Never log it; an empty key (no tokenKey, no secret) is refused. */
function signingKey(collection: AuthCollection, type: TokenType, tokenKey: string): string {
  const key = `${tokenKey}${configFor(collection, type).secret}`
  if (!key) throw new Error(`missing signing key for ${type} tokens of ${collection.name}`)
  return key
}

export interface SignOptions {
  /** Seconds; defaults to the collection's duration for this kind. */
  duration?: number
  /** Auth tokens only: false for static tokens (installer, impersonation) that auth-refresh must not renew. */
  refreshable?: boolean
  /** emailChange tokens: the address being moved to. */
  newEmail?: string
}

/** Signs a token of `type` for `record` of `collection` with PocketBase's claims for that kind. */
export async function signRecordToken(
  collection: AuthCollection,
  record: TokenSubject,
  type: TokenType,
  opts: SignOptions = {},
): Promise<string> {
  const claims: Record<string, unknown> = { type, id: record.id, collectionId: collection.id }
  if (type === 'auth') claims.refreshable = opts.refreshable ?? true
  if (type === 'verification' || type === 'passwordReset' || type === 'emailChange') claims.email = record.email ?? ''
  if (type === 'emailChange') claims.newEmail = opts.newEmail ?? ''
  const duration = opts.duration ?? configFor(collection, type).duration
  claims.exp = Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(duration))
  return signHs256(claims, signingKey(collection, type, record.tokenKey))
}

/**
 * The claims of a token WITHOUT checking its signature: only to find which collection and record
 * to verify it against. Null when it is not a JWT with PocketBase's required claims.
 */
export function readUnverified(token: string): TokenClaims | null {
  if (typeof token !== 'string' || token.length > 8192) return null
  const payload = decodeUnverified(token)
  if (!payload) return null
  const { id, collectionId, type, exp } = payload
  if (typeof id !== 'string' || !id || typeof collectionId !== 'string' || !collectionId) return null
  if (typeof type !== 'string' || !types.includes(type as TokenType) || typeof exp !== 'number') return null
  return payload as unknown as TokenClaims
}

/**
 * Verifies signature (HS256 only), expiry and type against the record's current tokenKey.
 * Null on any failure: callers answer as for a missing token and never say why.
 */
export async function verifyRecordToken(
  token: string,
  collection: AuthCollection,
  tokenKey: string,
  type: TokenType,
): Promise<TokenClaims | null> {
  const unverified = readUnverified(token)
  if (!unverified || unverified.type !== type || unverified.collectionId !== collection.id) return null
  const payload = verifyHs256(token, signingKey(collection, type, tokenKey))
  return payload ? (payload as unknown as TokenClaims) : null
}
