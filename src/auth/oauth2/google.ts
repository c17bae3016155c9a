/** Google: OAuth2 with PKCE; the user from the OpenID userinfo endpoint. */
import { StandardProvider, tokenParts } from './standard.ts'
import { str, truthy, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'

export class GoogleProvider extends StandardProvider {
  constructor(config: ProviderConfig) {
    super(config, {
      displayName: 'Google',
      pkce: true,
      scopes: ['https://www.googleapis.com/auth/userinfo.profile', 'https://www.googleapis.com/auth/userinfo.email'],
      authURL: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenURL: 'https://oauth2.googleapis.com/token',
      userInfoURL: 'https://www.googleapis.com/oauth2/v3/userinfo',
    })
  }

  async fetchUser(token: OAuth2Token): Promise<OAuth2User> {
    const raw = await this.userInfo(token)
    return {
      id: str(raw, 'sub'),
      name: str(raw, 'name'),
      username: '',
      email: truthy(raw.email_verified) ? str(raw, 'email') : '',
      avatarURL: str(raw, 'picture'),
      rawUser: raw,
      ...tokenParts(token),
    }
  }
}
