/**
 * nginx `secure_link` with `secure_link_md5`: the edge checks
 * `secure_link $arg_md5,$arg_expires;` against `secure_link_md5 "EXPRESSION";`, where the md5 is
 * the binary MD5 of the expression with its variables filled, base64url without padding.
 *
 * The expression is written as in nginx.conf, with `$key` (or `${key}`) standing for the secret,
 * so the secret can live in a file instead of the expression: `$secure_link_expires$uri $key`
 * matches `secure_link_md5 "$secure_link_expires$uri mysecret";`. `$uri` is the decoded path;
 * any other variable must be given in `vars` (an expression naming one not given is refused).
 */
import { createHash } from 'node:crypto'
import { NGINX_VARIABLE } from '../../config/cdn.ts'

export interface NginxSecureLinkInput {
  /** The URL to sign; `md5` and `expires` are added to its query. */
  url: string
  /** The nginx expression, `$key` for the secret. */
  expression: string
  /** The secret put where the expression says `$key`. NB: a secret. */
  secret: string
  /** Unix seconds; nginx's `$secure_link` is "0" (expired) after it. */
  expires: number
  /** Values of other nginx variables in the expression (`remote_addr`). */
  vars?: Record<string, string>
}

/** The value nginx compares with `$arg_md5`. */
export function secureLinkMd5(expression: string, values: Record<string, string>): string {
  const text = expression.replace(NGINX_VARIABLE, (_, a?: string, b?: string) => {
    const name = (a ?? b)!
    const value = values[name]
    if (value === undefined) throw new Error(`cdn: the nginx expression names $${name}, which has no value here`)
    return value
  })
  return createHash('md5').update(text).digest('base64url')
}

/** The signed URL: `...?md5=...&expires=...`. */
export function signNginxSecureLink({ url, expression, secret, expires, vars = {} }: NginxSecureLinkInput): string {
  const u = new URL(url)
  const md5 = secureLinkMd5(expression, { ...vars, secure_link_expires: String(expires), uri: decodeURIComponent(u.pathname), key: secret })
  u.searchParams.append('md5', md5)
  u.searchParams.append('expires', String(expires))
  return u.toString()
}
