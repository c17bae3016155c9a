/**
 * The OAuth2 providers Plinth knows, by PocketBase's names, and the one way to build a client
 * from a collection's provider settings.
 */
import { AppleProvider } from './apple.ts'
import { GithubProvider } from './github.ts'
import { GoogleProvider } from './google.ts'
import { OidcProvider } from './oidc.ts'
import { WechatProvider } from './wechat.ts'
import type { OAuth2Provider, ProviderConfig } from './provider.ts'
import type { OAuth2ProviderName } from '../../records/collections/oauth2-options.ts'

export { OAuth2Error, type OAuth2Provider, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'

/** Typed by the names collections may use (records/collections/oauth2-options.ts), so the two lists agree. */
const factories: Record<OAuth2ProviderName, (c: ProviderConfig) => OAuth2Provider> = {
  apple: (c) => new AppleProvider(c),
  google: (c) => new GoogleProvider(c),
  github: (c) => new GithubProvider(c),
  wechat: (c) => new WechatProvider(c),
  oidc: (c) => new OidcProvider(c),
  oidc2: (c) => new OidcProvider(c),
  oidc3: (c) => new OidcProvider(c),
}

/** A client for one configured provider; undefined for a name Plinth does not know. */
export function initProvider(config: ProviderConfig): OAuth2Provider | undefined {
  return Object.hasOwn(factories, config.name) ? factories[config.name as OAuth2ProviderName](config) : undefined
}
