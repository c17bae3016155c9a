/**
 * The plain OAuth2 authorization-code flow (RFC 6749 + PKCE, RFC 7636) that most vendors follow;
 * vendors differ in their defaults and in how they describe the user (fetchUser).
 */
import { toDbDate } from '../../records/model.ts'
import { objectBody, vendorJson } from './http.ts'
import { OAuth2Error, str, type AuthURLParams, type OAuth2Provider, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'

export interface ProviderDefaults {
  displayName: string
  pkce: boolean
  scopes: string[]
  authURL: string
  tokenURL: string
  userInfoURL: string
}

/** The endpoints and credentials of one configured provider: its defaults under the collection's settings. */
export interface Resolved {
  clientId: string
  clientSecret: string
  authURL: string
  tokenURL: string
  userInfoURL: string
  /** HTTP Basic client authentication (RFC 6749 2.3.1) instead of client_id/client_secret in the body. */
  basic?: boolean
}

export abstract class StandardProvider implements OAuth2Provider {
  readonly name: string
  readonly displayName: string
  readonly pkce: boolean
  protected readonly scopes: string[]
  protected readonly config: ProviderConfig
  private readonly fixed: Resolved

  constructor(config: ProviderConfig, defaults: ProviderDefaults) {
    this.config = config
    this.name = config.name
    this.displayName = config.displayName || defaults.displayName
    this.pkce = typeof config.pkce === 'boolean' ? config.pkce : defaults.pkce
    this.scopes = defaults.scopes
    this.fixed = {
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      authURL: config.authURL || defaults.authURL,
      tokenURL: config.tokenURL || defaults.tokenURL,
      userInfoURL: config.userInfoURL || defaults.userInfoURL,
    }
  }

  /** The endpoints to use; OIDC fills the unset ones from its discovery document. */
  protected resolve(): Promise<Resolved> {
    return Promise.resolve(this.fixed)
  }

  /** Vendor-specific query parameters of the authorization URL (Apple's response_mode). */
  protected authParams(): Record<string, string> {
    return {}
  }

  /** The client secret sent to the token endpoint (Apple signs one per call). */
  protected clientSecret(r: Resolved): Promise<string> {
    return Promise.resolve(r.clientSecret)
  }

  async buildAuthURL(p: AuthURLParams): Promise<string> {
    const r = await this.resolve()
    if (!r.authURL) throw new OAuth2Error(`${this.name}: no authorization URL`)
    const url = new URL(r.authURL)
    const q = url.searchParams
    q.set('client_id', r.clientId)
    q.set('response_type', 'code')
    if (this.scopes.length) q.set('scope', this.scopes.join(' '))
    q.set('state', p.state)
    if (this.pkce && p.codeChallenge) {
      q.set('code_challenge', p.codeChallenge)
      q.set('code_challenge_method', 'S256')
    }
    for (const [k, v] of Object.entries(this.authParams())) q.set(k, v)
    // Ends with an empty redirect_uri for the client to complete, as PocketBase's auth-methods does.
    return url.toString() + '&redirect_uri='
  }

  async fetchToken(code: string, codeVerifier: string, redirectURL: string): Promise<OAuth2Token> {
    const r = await this.resolve()
    if (!r.tokenURL) throw new OAuth2Error(`${this.name}: no token URL`)
    const form: Record<string, string> = { grant_type: 'authorization_code', code }
    if (redirectURL) form.redirect_uri = redirectURL
    if (this.pkce && codeVerifier) form.code_verifier = codeVerifier
    const secret = await this.clientSecret(r)
    const headers: Record<string, string> = {}
    if (r.basic) {
      // RFC 6749 2.3.1: each part form-encoded before base64.
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+')
      headers.authorization = 'Basic ' + Buffer.from(`${enc(r.clientId)}:${enc(secret)}`).toString('base64')
    } else {
      form.client_id = r.clientId
      if (secret) form.client_secret = secret
    }
    const body = objectBody(await vendorJson(r.tokenURL, { form, headers }), `${this.name} token exchange`)
    return tokenFrom(body, this.name)
  }

  abstract fetchUser(token: OAuth2Token): Promise<OAuth2User>

  /** GET the user-info endpoint with the access token as a Bearer token. */
  protected async userInfo(token: OAuth2Token, url?: string): Promise<Record<string, unknown>> {
    const target = url ?? (await this.resolve()).userInfoURL
    if (!target) throw new OAuth2Error(`${this.name}: no user info URL`)
    const res = await vendorJson(target, { headers: { authorization: `Bearer ${token.accessToken}`, 'user-agent': 'Plinth' } })
    return objectBody(res, `${this.name} user info`)
  }
}

/** A token endpoint's answer as an OAuth2Token; an `error` field or a missing access token is an error. */
export function tokenFrom(body: Record<string, unknown>, name: string): OAuth2Token {
  if (body.error !== undefined) throw new OAuth2Error(`${name} token exchange: ${str(body, 'error')} ${str(body, 'error_description')}`)
  const accessToken = str(body, 'access_token')
  if (!accessToken) throw new OAuth2Error(`${name} token exchange: no access_token`)
  const seconds = Number(body.expires_in)
  return {
    accessToken,
    refreshToken: str(body, 'refresh_token'),
    expiry: Number.isFinite(seconds) && seconds > 0 ? toDbDate(new Date(Date.now() + seconds * 1000)) : '',
    idToken: str(body, 'id_token'),
    raw: body,
  }
}

/** The user fields every provider fills the same way from the token. */
export function tokenParts(token: OAuth2Token): Pick<OAuth2User, 'accessToken' | 'refreshToken' | 'expiry'> {
  return { accessToken: token.accessToken, refreshToken: token.refreshToken, expiry: token.expiry }
}
