/**
 * GitHub: the profile from /user, the email from /user/emails (the verified primary one only;
 * the profile's public email is whatever the user typed, verified or not).
 */
import { objectBody, vendorJson } from './http.ts'
import { StandardProvider, tokenParts } from './standard.ts'
import { OAuth2Error, str, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'

export class GithubProvider extends StandardProvider {
  constructor(config: ProviderConfig) {
    super(config, {
      displayName: 'GitHub',
      // GitHub ignores the PKCE parameters it does not support, so sending them is harmless.
      pkce: true,
      scopes: ['read:user', 'user:email'],
      authURL: 'https://github.com/login/oauth/authorize',
      tokenURL: 'https://github.com/login/oauth/access_token',
      userInfoURL: 'https://api.github.com/user',
    })
  }

  async fetchUser(token: OAuth2Token): Promise<OAuth2User> {
    const raw = await this.userInfo(token)
    const id = str(raw, 'id')
    if (!id) throw new OAuth2Error('github user info: no id')
    return {
      id,
      name: str(raw, 'name'),
      username: str(raw, 'login'),
      email: await this.verifiedPrimaryEmail(token),
      avatarURL: str(raw, 'avatar_url'),
      rawUser: raw,
      ...tokenParts(token),
    }
  }

  private async verifiedPrimaryEmail(token: OAuth2Token): Promise<string> {
    const base = (await this.resolve()).userInfoURL.replace(/\/+$/, '')
    const res = await vendorJson(`${base}/emails`, { headers: { authorization: `Bearer ${token.accessToken}`, 'user-agent': 'Plinth' } })
    // Without the user:email scope GitHub refuses; the sign-in goes on without an email.
    if (res.status === 401 || res.status === 403 || res.status === 404) return ''
    if (!Array.isArray(res.body)) objectBody(res, 'github emails')
    for (const e of (Array.isArray(res.body) ? res.body : []).slice(0, 100)) {
      if (e && typeof e === 'object' && e.verified === true && e.primary === true && typeof e.email === 'string') return e.email
    }
    return ''
  }
}
