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

export { OAuth2Error, type OAuth2Provider, type OAuth2Token, type OAuth2User, type ProviderConfig } from './provider.ts'

const factories: Record<string, (c: ProviderConfig) => OAuth2Provider> = {
  apple: (c) => new AppleProvider(c),
  google: (c) => new GoogleProvider(c),
  github: (c) => new GithubProvider(c),
  wechat: (c) => new WechatProvider(c),
  oidc: (c) => new OidcProvider(c),
  oidc2: (c) => new OidcProvider(c),
  oidc3: (c) => new OidcProvider(c),
}

export function isKnownProvider(name: string): boolean {
  return Object.hasOwn(factories, name)
}

export const PROVIDER_NAMES: readonly string[] = Object.keys(factories)

/** A client for one configured provider; undefined for a name Plinth does not know. */
export function initProvider(config: ProviderConfig): OAuth2Provider | undefined {
  return Object.hasOwn(factories, config.name) ? factories[config.name]!(config) : undefined
}
