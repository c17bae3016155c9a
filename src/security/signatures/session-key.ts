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

/** Tokens whose session key is kept in memory (`SessionKeys`); the map is dropped when it fills. */
const MAX_CACHED_SESSIONS = 10_000

/**
 * A session's key id and key, derived once per token and collection secret rather than on every
 * signed request (a SHA-256 and an HMAC each time showed in profiles). Bounded: at
 * MAX_CACHED_SESSIONS tokens the map starts afresh. NB: key material, in process memory only; an
 * entry holds the collection secret it came from, so a new secret is never served an old key.
 */
export class SessionKeys {
  readonly #byToken = new Map<string, { collectionSecret: string; keyid: string; secret: Buffer }>()

  /** The session key of `token` if `keyid` names it, else undefined. */
  keyFor(collection: Pick<AuthCollection, 'authToken'>, token: string, keyid: string): Buffer | undefined {
    const collectionSecret = collection.authToken.secret
    let hit = this.#byToken.get(token)
    if (!hit || hit.collectionSecret !== collectionSecret) {
      if (this.#byToken.size >= MAX_CACHED_SESSIONS) this.#byToken.clear()
      hit = { collectionSecret, keyid: sessionKeyId(token), secret: sessionSecret(collection, token) }
      this.#byToken.set(token, hit)
    }
    return hit.keyid === keyid ? hit.secret : undefined
  }
}

export function sessionSigningKey(collection: Pick<AuthCollection, 'authToken'>, token: string): SigningKeyJson {
  return { keyid: sessionKeyId(token), alg: 'hmac-sha256', secret: sessionSecret(collection, token).toString('base64') }
}
