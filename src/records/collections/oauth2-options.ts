/**
 * An auth collection's `oauth2` options: the providers (PocketBase's OAuth2ProviderConfig) as
 * stored, their validation, and the rule that keeps client secrets server-side. The provider
 * clients live in src/auth/oauth2/ (above records/); the names they implement are listed here so a
 * collection can only name one of them (auth/oauth2/index.ts is typed by this list).
 */
import type { ValidationCode } from '../../validation-codes.ts'
import type { AuthCollection } from '../model.ts'
import { fieldError, required, setError, type ErrorTree } from './errors.ts'

export const OAUTH2_PROVIDER_NAMES = ['apple', 'google', 'github', 'wechat', 'oidc', 'oidc2', 'oidc3'] as const
export type OAuth2ProviderName = (typeof OAUTH2_PROVIDER_NAMES)[number]

/** One provider as stored (the shape src/auth/oauth2 reads). */
export interface StoredProvider {
  name: string
  clientId: string
  clientSecret: string
  authURL: string
  tokenURL: string
  userInfoURL: string
  displayName: string
  pkce: boolean | null
  extra: Record<string, unknown>
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const s = (v: unknown) => (typeof v === 'string' ? v.trim() : '')
/** Caps what a collection row may carry in providers (a handful in practice). */
const MAX_PROVIDERS = 50

/**
 * Submitted providers in their stored shape. A provider sent without a clientSecret keeps the
 * current one of the same name: the API never serves secrets, so a client that saves back what it
 * read (the SDK, an admin UI) must not wipe them.
 */
export function mergeProviders(input: unknown[], current: readonly unknown[]): StoredProvider[] {
  const prev = new Map(current.filter(isObject).map((p) => [s(p.name), s(p.clientSecret)]))
  return input.slice(0, MAX_PROVIDERS).filter(isObject).map((p) => ({
    name: s(p.name),
    clientId: s(p.clientId),
    clientSecret: s(p.clientSecret) || prev.get(s(p.name)) || '',
    authURL: s(p.authURL),
    tokenURL: s(p.tokenURL),
    userInfoURL: s(p.userInfoURL),
    displayName: s(p.displayName),
    pkce: typeof p.pkce === 'boolean' ? p.pkce : null,
    extra: isObject(p.extra) ? p.extra : {},
  }))
}

/** The stored providers of a collection (rows written before this shape are read the same way). */
export function storedProviders(c: AuthCollection): StoredProvider[] {
  return mergeProviders(c.oauth2.providers, [])
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v)
    return u.protocol === 'https:' || u.protocol === 'http:'
  } catch {
    return false
  }
}

/** PocketBase's OAuth2Config.Validate: checked only when enabled; names known and unique, id and secret set, URLs valid. */
export function validateOAuth2(next: AuthCollection, errors: ErrorTree): void {
  if (!next.oauth2.enabled) return
  const set = (path: (string | number)[], code: ValidationCode, message: string) => setError(errors, ['oauth2', 'providers', ...path], fieldError(code, message))
  const seen = new Set<string>()
  storedProviders(next).forEach((p, i) => {
    if (!p.name) setError(errors, ['oauth2', 'providers', i, 'name'], required())
    else if (!(OAUTH2_PROVIDER_NAMES as readonly string[]).includes(p.name)) set([i, 'name'], 'validation_missing_provider', `Invalid or missing provider with name ${p.name}.`)
    else if (seen.has(p.name)) set([i, 'name'], 'validation_duplicated_provider', `The provider ${p.name} is already registered.`)
    seen.add(p.name)
    if (!p.clientId) setError(errors, ['oauth2', 'providers', i, 'clientId'], required())
    // Apple may go without one: Plinth signs it from the key file in extra.
    if (!p.clientSecret && !(p.name === 'apple' && (p.extra.keyFile || p.extra.privateKey))) setError(errors, ['oauth2', 'providers', i, 'clientSecret'], required())
    for (const k of ['authURL', 'tokenURL', 'userInfoURL'] as const) {
      if (p[k] && !isHttpUrl(p[k])) set([i, k], 'validation_is_url', 'Must be a valid URL.')
    }
  })
}
