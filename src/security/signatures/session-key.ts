/**
 * Per-session HMAC keys for request signing, derived without storage: the key of a token is
 * HMAC-SHA256(the auth collection's token secret, label + token). Every node computes the same key
 * from the token the request carries, and a key dies with its token (a new tokenKey or collection
 * secret revokes both). No secret is shared by every copy of an app: each sign-in gets its own.
 *
 * NB: key material. The secret is sent once, in the auth response, over TLS; never log it.
 */
import { createHash, createHmac } from 'node:crypto'
import type { AuthCollection } from '../../records/model.ts'

/** What an auth response carries (`signingKey`) when signing is on. */
export interface SigningKeyJson {
  keyid: string
  alg: 'hmac-sha256'
  /** The key, base64. */
  secret: string
}

const LABEL = 'plinth/request-signing/v1\0'

/** Session key ids start with this; device key ids with `DEVICE_KEY_PREFIX`. */
export const SESSION_KEY_PREFIX = 's_'

/** The key id of a token's session key: short, and says nothing about the token beyond a hash. */
export function sessionKeyId(token: string): string {
  return SESSION_KEY_PREFIX + createHash('sha256').update(token).digest('base64url').slice(0, 22)
}

/** The token's session key (32 bytes). */
export function sessionSecret(collection: Pick<AuthCollection, 'authToken'>, token: string): Buffer {
  return createHmac('sha256', collection.authToken.secret).update(LABEL + token).digest()
}

export function sessionSigningKey(collection: Pick<AuthCollection, 'authToken'>, token: string): SigningKeyJson {
  return { keyid: sessionKeyId(token), alg: 'hmac-sha256', secret: sessionSecret(collection, token).toString('base64') }
}
