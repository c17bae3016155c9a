/**
 * PocketBase's OAuth2 sign-in: `POST /api/collections/:collection/auth-with-oauth2` and the
 * `oauth2` part of auth-methods (each provider's authURL with a fresh state and PKCE pair, which
 * the client keeps and sends back; the server stores nothing between the two calls).
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { initProvider, OAuth2Error, type OAuth2User } from '../auth/oauth2/index.ts'
import { authRequestInfo } from '../auth/request-info.ts'
import { ApiError, validationError } from '../errors.ts'
import { storedProviders } from '../records/collections/oauth2-options.ts'
import { randomString } from '../records/fields/random.ts'
import type { AuthCollection } from '../records/model.ts'
import { readBody } from './record-auth-body.ts'
import { authCollection, requestAuth, respondWithAuth, type AuthMethodsFiller, type RecordAuthOptions } from './record-auth-context.ts'
import { signInWithOAuth2 } from './record-auth-oauth2-link.ts'

export const AuthWithOAuth2Body = Type.Object({
  provider: Type.String({ minLength: 1, maxLength: 100 }),
  code: Type.String({ minLength: 1, maxLength: 4096 }),
  codeVerifier: Type.Optional(Type.String({ maxLength: 256 })),
  redirectURL: Type.Optional(Type.String({ maxLength: 2048 })),
  /** PocketBase's pre-0.23 spelling, still sent by older SDKs. */
  redirectUrl: Type.Optional(Type.String({ maxLength: 2048 })),
  createData: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
})

interface CollectionParams {
  collection: string
}

/** One provider as auth-methods lists it (PocketBase's providerInfo; no logos). */
export interface ProviderInfo {
  name: string
  displayName: string
  logo: string
  state: string
  authURL: string
  authUrl: string
  codeVerifier: string
  codeChallenge: string
  codeChallengeMethod: string
}

/**
 * The auth-methods filler of OAuth2: the collection's providers with a new state and PKCE pair each. A provider that cannot build
 * its URL (an OIDC discovery that fails) is left out and logged, as PocketBase skips it.
 */
export function oauth2AuthMethods(log: { warn(o: object, m: string): void }): AuthMethodsFiller {
  return async (c, report) => {
    if (!c.oauth2.enabled) return
    const providers = await providerInfos(c, log)
    report.oauth2 = { enabled: true, providers }
    report.authProviders = providers.map((p) => ({ ...p, logo: '' }))
  }
}

async function providerInfos(c: AuthCollection, log: { warn(o: object, m: string): void }): Promise<ProviderInfo[]> {
  const providers: ProviderInfo[] = []
  for (const config of storedProviders(c)) {
    const p = initProvider(config)
    if (!p) continue
    const state = randomString(30)
    const codeVerifier = p.pkce ? randomString(43) : ''
    const codeChallenge = p.pkce ? createHash('sha256').update(codeVerifier).digest('base64url') : ''
    try {
      const authURL = await p.buildAuthURL({ state, codeChallenge })
      providers.push({
        name: config.name, displayName: p.displayName, logo: '', state, authURL, authUrl: authURL,
        codeVerifier, codeChallenge, codeChallengeMethod: p.pkce ? 'S256' : '',
      })
    } catch (err) {
      log.warn({ err, provider: config.name, collection: c.name }, 'OAuth2 provider skipped in auth-methods')
    }
  }
  return providers
}

export async function recordAuthOAuth2(http: FastifyInstance, opts: RecordAuthOptions): Promise<void> {
  const log = opts.log ?? http.log
  http.post<{ Params: CollectionParams }>('/api/collections/:collection/auth-with-oauth2', async (request) => {
    const c = authCollection(opts, request.params.collection)
    if (!c.oauth2.enabled) throw new ApiError('forbidden', 'The collection is not configured to allow OAuth2 authentication.')
    const body = readBody(AuthWithOAuth2Body, request.body)
    const config = storedProviders(c).find((p) => p.name === body.provider)
    const provider = config && initProvider(config)
    if (!provider) {
      throw validationError({ provider: { code: 'validation_invalid_provider', message: `Provider with name ${body.provider} is missing or is not enabled.`, params: { name: body.provider } } })
    }
    const vendor = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run()
      } catch (err) {
        // The vendor's words go to the log only: they may quote tokens or internal addresses.
        if (err instanceof OAuth2Error) log.warn({ err, provider: body.provider, collection: c.name }, `OAuth2 ${what} failed`)
        else log.error({ err, provider: body.provider }, `OAuth2 ${what} failed`)
        throw new ApiError('bad_request', `Failed to fetch OAuth2 ${what}.`)
      }
    }
    const token = await vendor('token', () => provider.fetchToken(body.code, body.codeVerifier ?? '', body.redirectURL || body.redirectUrl || ''))
    const user: OAuth2User = await vendor('user', () => provider.fetchUser(token))
    if (!user.id) throw new ApiError('bad_request', 'Failed to fetch OAuth2 user.')
    const auth = await requestAuth(opts, request)
    let signedIn
    try {
      signedIn = await signInWithOAuth2(opts.records, {
        collection: c, provider: body.provider, user, createData: body.createData ?? {}, auth,
        request: (payload) => authRequestInfo(request, auth, payload, 'oauth2'),
      })
    } catch (err) {
      if (err instanceof ApiError) throw err
      log.error({ err, provider: body.provider, collection: c.name }, 'OAuth2 sign-in failed')
      throw new ApiError('bad_request', 'Failed to authenticate.')
    }
    // PocketBase's meta: the vendor's user (with the legacy avatarUrl) and whether the record is new.
    // As the 'oauth2' method it takes part in MFA and the login alert like the other sign-ins.
    const meta = { ...user, avatarUrl: user.avatarURL, isNew: signedIn.isNew }
    return respondWithAuth(opts, request, c, signedIn.row, { provider: body.provider }, 'oauth2', { method: 'oauth2', meta })
  })
}
