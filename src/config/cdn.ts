import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { PlinthConfig } from './schema.ts'
import { ConfigError } from './errors.ts'

type CdnConfig = PlinthConfig['cdn']

/** An nginx variable in an expression, `$name` or `${name}` (the name in group 1 or 2). */
export const NGINX_VARIABLE = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g

/** The variables an nginx expression names, without `$`. */
export function expressionVariables(expression: string): string[] {
  return [...expression.matchAll(NGINX_VARIABLE)].map((m) => (m[1] ?? m[2])!)
}

/** The nginx variables Plinth can fill when it signs (`$key` is the secret). */
const nginxVariables = new Set(['secure_link_expires', 'uri', 'key'])

/**
 * Checks the `cdn` settings and reads `keyFile` (relative to `cwd`) into `key`, so signing never
 * touches the disk. Throws a ConfigError naming the setting at fault.
 */
export function resolveCdn(cdn: CdnConfig, cwd: string): CdnConfig {
  const out = { ...cdn }
  if (out.keyFile) {
    if (out.key) throw new ConfigError('config: cdn: give the key once (cdn.key or cdn.keyFile)')
    try {
      out.key = readFileSync(path.resolve(cwd, out.keyFile), 'utf8').trim()
    } catch {
      throw new ConfigError(`config: cdn.keyFile: cannot read ${out.keyFile}`)
    }
  }
  if (out.signer === 'none') return out
  if (!out.baseUrl) throw new ConfigError(`config: cdn.baseUrl: the ${out.signer} signer needs the CDN's base URL`)
  if (out.signer === 'cloudfront') {
    if (!out.keyPairId) throw new ConfigError('config: cdn.keyPairId: the cloudfront signer needs the public key id')
    try {
      if (createPrivateKey(out.key).asymmetricKeyType !== 'rsa') throw new Error('not RSA')
    } catch {
      throw new ConfigError('config: cdn.key: the cloudfront signer needs an RSA private key (PEM)')
    }
    return out
  }
  if (out.signer === 'nginx') {
    const names = expressionVariables(out.expression)
    const unknown = names.find((n) => !nginxVariables.has(n))
    if (unknown) throw new ConfigError(`config: cdn.expression: $${unknown} cannot be filled when signing (use $secure_link_expires, $uri, $key)`)
    if (!names.includes('secure_link_expires')) throw new ConfigError('config: cdn.expression: needs $secure_link_expires, or a signed URL never expires')
    if (names.includes('key') && !out.key) throw new ConfigError('config: cdn.key: the expression names $key but no key is set')
    return out
  }
  if (!out.key) throw new ConfigError(`config: cdn.key: the ${out.signer} signer needs a key`)
  return out
}
