import type { FastifyRequest } from 'fastify'
import { rowToRecord } from '../records/fields/index.ts'
import type { AuthInfo } from '../records/record.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { AuthCache } from './auth-cache.ts'
import { findRowByToken, type Db } from './records.ts'

/**
 * The request's auth from its `Authorization` header (`TOKEN` or `Bearer TOKEN`); null for guests
 * and bad tokens. Answers at once (no promise) for a guest and a token already verified.
 */
export type Authenticate = (request: Pick<FastifyRequest, 'headers'>) => AuthInfo | null | Promise<AuthInfo | null>

export const SUPERUSERS = '_superusers'

/** The token in an `Authorization` header: PocketBase takes it bare, `Bearer ` is accepted for HTTP clients' defaults. */
export function tokenFromHeader(header: string | string[] | undefined): string {
  const value = (Array.isArray(header) ? header[0] : header)?.trim() ?? ''
  return value.length > 7 && value.slice(0, 7).toLowerCase() === 'bearer ' ? value.slice(7).trim() : value
}

export interface AuthenticatorDeps {
  registry: CollectionRegistry
  /** The primary's Kysely (a function, so the SQL router can pick a connection per call). */
  db: () => Db
  /** Verified tokens, so a token seen before costs no SQL (`auth-cache.ts` says what ends an entry). */
  cache?: AuthCache
}

/**
 * Builds the request authenticator. A bad, expired, revoked or foreign token is treated like no
 * token (null), as PocketBase does; routes that need auth answer 401 themselves.
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticate {
  const verify = async (token: string): Promise<AuthInfo | null> => {
    const epoch = deps.cache?.epoch() ?? 0
    const match = await findRowByToken({ registry: deps.registry, db: deps.db() }, token, 'auth')
    if (!match) return null
    // Shared by every request carrying this token while cached: frozen, so none can change it.
    const info: AuthInfo = Object.freeze({
      collection: match.collection,
      record: Object.freeze(rowToRecord(match.collection, match.row)),
      isSuperuser: match.collection.name === SUPERUSERS,
    })
    deps.cache?.put(token, info, match.claims.exp, epoch)
    return info
  }
  return (request) => {
    const token = tokenFromHeader(request.headers.authorization)
    if (!token) return null
    return deps.cache?.get(token) ?? verify(token)
  }
}
