/**
 * Any OpenID Connect provider, by its discovery document (extra.discoveryURL, e.g.
 * `https://accounts.example.com/.well-known/openid-configuration`). Endpoints set on the provider
 * win over discovered ones. The id_token, when the provider sends one and a JWKS is known, is
 * verified (signature, aud = clientId, iss, exp); the user comes from the userinfo endpoint when
 * there is one (its `sub` must match the id_token's), else from the id_token.
 * PocketBase's names `oidc`, `oidc2`, `oidc3` let one collection use three such providers.
 */
import { objectBody, vendorJson } from './http.ts'
import { verifyIdToken } from './id-token.ts'
import { StandardProvider, tokenParts, type Resolved } from './standard.ts'
import { OAuth2Error, str, truthy, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'

interface Discovery {
  issuer: string
  authURL: string
  tokenURL: string
  userInfoURL: string
  jwksURL: string
  basicOnly: boolean
}

/** Discovery documents by URL: vendors change them rarely; an hour is PocketBase-like caching. */
const DISCOVERY_TTL_MS = 60 * 60 * 1000
const MAX_CACHED = 64
const FAILURE_TTL_MS = 30_000
const cache = new Map<string, { until: number; doc: Promise<Discovery> }>()

export class OidcProvider extends StandardProvider {
  constructor(config: ProviderConfig) {
    super(config, { displayName: 'OIDC', pkce: true, scopes: ['openid', 'email', 'profile'], authURL: '', tokenURL: '', userInfoURL: '' })
  }

  private discovery(): Promise<Discovery | undefined> {
    const url = str(this.config.extra ?? {}, 'discoveryURL')
    return url ? discover(url) : Promise.resolve(undefined)
  }

  protected override async resolve(): Promise<Resolved> {
    const d = await this.discovery()
    const c = this.config
    return {
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      authURL: c.authURL || d?.authURL || '',
      tokenURL: c.tokenURL || d?.tokenURL || '',
      userInfoURL: c.userInfoURL || d?.userInfoURL || '',
      basic: d?.basicOnly ?? false,
    }
  }

  async fetchUser(token: OAuth2Token): Promise<OAuth2User> {
    const extra = this.config.extra ?? {}
    const d = await this.discovery()
    const jwksURL = str(extra, 'jwksURL') || d?.jwksURL || ''
    const issuers = Array.isArray(extra.issuers) ? extra.issuers.filter((i): i is string => typeof i === 'string') : d ? [d.issuer] : []
    let claims: Record<string, unknown> | undefined
    if (token.idToken && jwksURL) claims = await verifyIdToken(token.idToken, { jwksURL, issuers, audience: this.config.clientId })
    const { userInfoURL } = await this.resolve()
    let raw: Record<string, unknown>
    if (userInfoURL) {
      raw = await this.userInfo(token, userInfoURL)
      if (claims && str(raw, 'sub') !== str(claims, 'sub')) throw new OAuth2Error('oidc: userinfo sub differs from the id_token sub')
    } else if (claims) {
      raw = claims
    } else {
      throw new OAuth2Error('oidc: neither a userinfo endpoint nor a verifiable id_token')
    }
    const id = str(raw, 'sub')
    if (!id) throw new OAuth2Error('oidc: no sub')
    return {
      id,
      name: str(raw, 'name'),
      username: str(raw, 'preferred_username'),
      email: truthy(raw.email_verified) ? str(raw, 'email') : '',
      avatarURL: str(raw, 'picture'),
      rawUser: raw,
      ...tokenParts(token),
    }
  }
}

/**
 * The discovery document at `url`, cached. A failure is kept for a short while too: with the
 * provider down, auth-methods must not wait out a timeout on every call.
 */
export function discover(url: string, now = Date.now()): Promise<Discovery> {
  const hit = cache.get(url)
  if (hit && hit.until > now) return hit.doc
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!)
  const doc = fetchDiscovery(url)
  const entry = { until: now + DISCOVERY_TTL_MS, doc }
  cache.set(url, entry)
  doc.catch(() => {
    entry.until = Date.now() + FAILURE_TTL_MS
  })
  return doc
}

async function fetchDiscovery(url: string): Promise<Discovery> {
  const d = objectBody(await vendorJson(url), 'oidc discovery')
  const methods = Array.isArray(d.token_endpoint_auth_methods_supported) ? d.token_endpoint_auth_methods_supported : []
  const doc = {
    issuer: str(d, 'issuer'),
    authURL: str(d, 'authorization_endpoint'),
    tokenURL: str(d, 'token_endpoint'),
    userInfoURL: str(d, 'userinfo_endpoint'),
    jwksURL: str(d, 'jwks_uri'),
    // client_secret_basic is the spec's default; post only when the provider lists post.
    basicOnly: !methods.includes('client_secret_post'),
  }
  if (!doc.issuer || !doc.tokenURL) throw new OAuth2Error('oidc discovery: no issuer or token_endpoint')
  return doc
}
