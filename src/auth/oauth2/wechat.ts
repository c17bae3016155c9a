/**
 * WeChat Open Platform login (website QR login and mobile-app login). Not standard OAuth2: the
 * token endpoint takes appid/secret/code in the query string (a GET) and answers openid/unionid
 * beside the access token; the profile comes from sns/userinfo; failures are HTTP 200 with
 * `{errcode, errmsg}`. The id is the unionid when WeChat sends one (the same person across all
 * apps of one Open Platform account), else the openid (per app).
 *
 * clientId/clientSecret are the website app's AppID/AppSecret. A mobile app has its own AppID:
 * set extra.appId/extra.appSecret, and sign-ins without a redirectURL (the app's SDK hands the
 * code over directly) exchange with those.
 */
import { objectBody, vendorJson } from './http.ts'
import { OAuth2Error, str, type AuthURLParams, type OAuth2Provider, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'
import { tokenFrom, tokenParts } from './standard.ts'

export class WechatProvider implements OAuth2Provider {
  readonly name: string
  readonly displayName: string
  /** WeChat has no PKCE. */
  readonly pkce = false
  private readonly authURL: string
  private readonly tokenURL: string
  private readonly userInfoURL: string

  constructor(private readonly config: ProviderConfig) {
    this.name = config.name
    this.displayName = config.displayName || 'WeChat'
    this.authURL = config.authURL || 'https://open.weixin.qq.com/connect/qrconnect'
    this.tokenURL = config.tokenURL || 'https://api.weixin.qq.com/sns/oauth2/access_token'
    this.userInfoURL = config.userInfoURL || 'https://api.weixin.qq.com/sns/userinfo'
  }

  buildAuthURL(p: AuthURLParams): Promise<string> {
    const url = new URL(this.authURL)
    url.searchParams.set('appid', this.config.clientId)
    url.searchParams.set('response_type', 'code')
    url.searchParams.set('scope', 'snsapi_login')
    url.searchParams.set('state', p.state)
    return Promise.resolve(url.toString() + '&redirect_uri=')
  }

  async fetchToken(code: string, _codeVerifier: string, redirectURL: string): Promise<OAuth2Token> {
    const extra = this.config.extra ?? {}
    const app = !redirectURL && str(extra, 'appId') ? { appid: str(extra, 'appId'), secret: str(extra, 'appSecret') } : undefined
    const url = new URL(this.tokenURL)
    url.searchParams.set('appid', app?.appid ?? this.config.clientId)
    url.searchParams.set('secret', app?.secret ?? this.config.clientSecret)
    url.searchParams.set('code', code)
    url.searchParams.set('grant_type', 'authorization_code')
    const body = wechatBody(objectBody(await vendorJson(url.toString()), 'wechat token exchange'), 'token exchange')
    const token = tokenFrom(body, this.name)
    if (!str(body, 'openid')) throw new OAuth2Error('wechat token exchange: no openid')
    return token
  }

  async fetchUser(token: OAuth2Token): Promise<OAuth2User> {
    const url = new URL(this.userInfoURL)
    url.searchParams.set('access_token', token.accessToken)
    url.searchParams.set('openid', str(token.raw, 'openid'))
    const raw = wechatBody(objectBody(await vendorJson(url.toString()), 'wechat user info'), 'user info')
    const id = str(raw, 'unionid') || str(token.raw, 'unionid') || str(raw, 'openid') || str(token.raw, 'openid')
    if (!id) throw new OAuth2Error('wechat user info: no openid')
    return {
      id,
      name: str(raw, 'nickname'),
      username: '',
      // WeChat never gives an email address.
      email: '',
      avatarURL: str(raw, 'headimgurl'),
      rawUser: raw,
      ...tokenParts(token),
    }
  }
}

/** WeChat reports errors as 200 with a non-zero errcode. */
function wechatBody(body: Record<string, unknown>, what: string): Record<string, unknown> {
  if (body.errcode !== undefined && Number(body.errcode) !== 0) {
    throw new OAuth2Error(`wechat ${what}: errcode ${str(body, 'errcode')} ${str(body, 'errmsg')}`)
  }
  return body
}
