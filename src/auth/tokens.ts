import { checkHs256, parseJwt, signHs256, type ParsedJwt } from './jwt.ts'
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

/** A token parsed once: its claims (NOT verified) and what verifying it needs. */
export interface UnverifiedToken {
  claims: TokenClaims
  jwt: ParsedJwt
}

/**
 * A token's claims WITHOUT checking its signature, with the parsed token for `verifyParsed`: only
 * to find which collection and record to verify it against. Null when it is not a JWT with
 * PocketBase's required claims.
 */
export function parseToken(token: string): UnverifiedToken | null {
  if (typeof token !== 'string' || token.length > 8192) return null
  const jwt = parseJwt(token)
  if (!jwt) return null
  const { id, collectionId, type, exp } = jwt.payload
  if (typeof id !== 'string' || !id || typeof collectionId !== 'string' || !collectionId) return null
  if (typeof type !== 'string' || !types.includes(type as TokenType) || typeof exp !== 'number') return null
  return { claims: jwt.payload as unknown as TokenClaims, jwt }
}

/** `parseToken`'s claims alone. */
export function readUnverified(token: string): TokenClaims | null {
  return parseToken(token)?.claims ?? null
}

/**
 * Verifies a parsed token: signature (HS256 only), expiry and type against the record's current
 * tokenKey. Null on any failure: callers answer as for a missing token and never say why.
 */
export function verifyParsed(token: UnverifiedToken, collection: AuthCollection, tokenKey: string, type: TokenType): TokenClaims | null {
  const { claims } = token
  if (claims.type !== type || claims.collectionId !== collection.id) return null
  return checkHs256(token.jwt, signingKey(collection, type, tokenKey)) ? claims : null
}

/** `verifyParsed` for a token string. */
export async function verifyRecordToken(
  token: string,
  collection: AuthCollection,
  tokenKey: string,
  type: TokenType,
): Promise<TokenClaims | null> {
  const parsed = parseToken(token)
  return parsed && verifyParsed(parsed, collection, tokenKey, type)
}
