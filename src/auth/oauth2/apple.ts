/**
 * Sign in with Apple. Apple's client secret is an ES256 JWT signed with the developer's key file
 * (.p8) under the team id and key id; Plinth signs a short-lived one for each token exchange, so no
 * one has to renew a six-month secret by hand. The user comes from the id_token, verified against
 * Apple's JWKS (signature, iss, aud = the Services ID or bundle id, exp).
 */
import { readFile } from 'node:fs/promises'
import { loadJose, verifyIdToken } from './id-token.ts'
import { StandardProvider, tokenParts, type Resolved } from './standard.ts'
import { OAuth2Error, str, truthy, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'

export const APPLE_ISSUER = 'https://appleid.apple.com'
/** Each signed secret lives this long (Apple allows up to six months; one exchange needs seconds). */
const SECRET_TTL_SECONDS = 300

export class AppleProvider extends StandardProvider {
  constructor(config: ProviderConfig) {
    super(config, {
      displayName: 'Apple',
      pkce: true,
      scopes: ['name', 'email'],
      authURL: 'https://appleid.apple.com/auth/authorize',
      tokenURL: 'https://appleid.apple.com/auth/token',
      userInfoURL: '',
    })
  }

  /** Apple requires form_post when name or email is requested. */
  protected override authParams(): Record<string, string> {
    return { response_mode: 'form_post' }
  }

  /** A fresh ES256 secret from the key file when teamId/keyId/key are set; else the configured one. */
  protected override async clientSecret(r: Resolved): Promise<string> {
    const extra = this.config.extra ?? {}
    const teamId = str(extra, 'teamId')
    const keyId = str(extra, 'keyId')
    const pem = await privateKeyPem(extra)
    if (!pem) {
      if (!r.clientSecret) throw new OAuth2Error('apple: set extra.teamId, extra.keyId and extra.keyFile (or clientSecret)')
      return r.clientSecret
    }
    if (!teamId || !keyId) throw new OAuth2Error('apple: extra.teamId and extra.keyId are required with a key')
    return signAppleClientSecret({ pem, teamId, keyId, clientId: r.clientId })
  }

  async fetchUser(token: OAuth2Token): Promise<OAuth2User> {
    const extra = this.config.extra ?? {}
    const claims = await verifyIdToken(token.idToken, {
      jwksURL: str(extra, 'jwksURL') || 'https://appleid.apple.com/auth/keys',
      issuers: [APPLE_ISSUER],
      audience: this.config.clientId,
    })
    return {
      id: str(claims, 'sub'),
      // Apple sends the name only once, in the first redirect's form post; clients pass it in createData.
      name: str(claims, 'name'),
      username: '',
      email: truthy(claims.email_verified) ? str(claims, 'email') : '',
      avatarURL: '',
      rawUser: claims,
      ...tokenParts(token),
    }
  }
}

export interface AppleSecretInput {
  pem: string
  teamId: string
  keyId: string
  clientId: string
}

/** Apple's client secret: {alg ES256, kid} {iss teamId, sub clientId, aud appleid.apple.com, iat, exp}. */
export async function signAppleClientSecret(input: AppleSecretInput, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const j = await loadJose()
  let key: Awaited<ReturnType<typeof j.importPKCS8>>
  try {
    key = await j.importPKCS8(input.pem.trim(), 'ES256')
  } catch {
    throw new OAuth2Error('apple: the private key is not a PKCS#8 EC key (.p8)')
  }
  return new j.SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: input.keyId })
    .setIssuer(input.teamId)
    .setSubject(input.clientId)
    .setAudience(APPLE_ISSUER)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + SECRET_TTL_SECONDS)
    .sign(key)
}

/**
 * The .p8 key: `extra.privateKey` (its PEM text) or `extra.keyFile` (a path to it).
 * NB: keyFile must name a .p8 file, so a collection setting cannot point the server at other files.
 */
async function privateKeyPem(extra: Record<string, unknown>): Promise<string> {
  const inline = str(extra, 'privateKey')
  if (inline) return inline
  const file = str(extra, 'keyFile')
  if (!file) return ''
  if (!file.endsWith('.p8')) throw new OAuth2Error('apple: extra.keyFile must be a .p8 file')
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new OAuth2Error(`apple: cannot read the key file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
}
