/**
 * OAuth2 sign-in providers: one interface, one file per vendor beside it. A provider turns the
 * authorization code a client got from the vendor into the vendor's user, the way PocketBase's
 * `tools/auth` providers do, with every endpoint configurable (tests point them at a local server).
 */

/** One entry of an auth collection's `oauth2.providers` (PocketBase's OAuth2ProviderConfig). */
export interface ProviderConfig {
  name: string
  clientId: string
  /** NB: a secret; never served by the API (collectionToJson drops it). */
  clientSecret: string
  authURL?: string
  tokenURL?: string
  userInfoURL?: string
  displayName?: string
  /** Overrides the provider's PKCE default (some vendors refuse the extra parameters). */
  pkce?: boolean | null
  /** Vendor settings: Apple's teamId/keyId/privateKey/keyFile, OIDC's discoveryURL/jwksURL/issuers. */
  extra?: Record<string, unknown>
}

/** What the token endpoint answered. */
export interface OAuth2Token {
  accessToken: string
  refreshToken: string
  /** When the access token expires, PocketBase's date form, or '' when the vendor did not say. */
  expiry: string
  idToken: string
  /** The whole answer (WeChat's openid/unionid ride here). */
  raw: Record<string, unknown>
}

/** PocketBase's auth.AuthUser: what the sign-in response's `meta` carries (plus `isNew`). */
export interface OAuth2User {
  id: string
  name: string
  username: string
  /** Only an address the vendor says is verified; '' otherwise (an unverified one must not link accounts). */
  email: string
  avatarURL: string
  rawUser: Record<string, unknown>
  accessToken: string
  refreshToken: string
  expiry: string
}

export interface AuthURLParams {
  state: string
  /** PKCE S256 challenge, when the provider uses PKCE. */
  codeChallenge?: string
}

export interface OAuth2Provider {
  readonly name: string
  readonly displayName: string
  readonly pkce: boolean
  /**
   * The vendor's authorization URL with client_id, scope, state (and PKCE), ending in
   * `&redirect_uri=` so that clients append their own, as PocketBase's auth-methods does.
   */
  buildAuthURL(params: AuthURLParams): Promise<string>
  /** Exchanges the code (authorization_code grant); `codeVerifier` is sent only with PKCE on. */
  fetchToken(code: string, codeVerifier: string, redirectURL: string): Promise<OAuth2Token>
  fetchUser(token: OAuth2Token): Promise<OAuth2User>
}

/**
 * A vendor refused or answered something unusable. The message is for logs (it may quote the
 * vendor's reply); clients see PocketBase's generic "Failed to fetch OAuth2 token/user."
 */
export class OAuth2Error extends Error {
  override name = 'OAuth2Error'
}

/** A string field of a vendor's JSON, or ''. Numbers (GitHub's ids) become strings. */
export function str(obj: Record<string, unknown>, key: string): string {
  const v = obj[key]
  if (typeof v === 'string') return v
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  return ''
}

/** OIDC's email_verified, which some vendors send as the string "true" (PocketBase #6657). */
export function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 1 || v === '1'
}
