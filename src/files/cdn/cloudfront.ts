/**
 * Amazon CloudFront signed URLs with a canned policy: the policy
 * `{"Statement":[{"Resource":URL,"Condition":{"DateLessThan":{"AWS:EpochTime":EXPIRES}}}]}`
 * (exactly so, no spaces) is signed with the key group's RSA private key (SHA-1), base64-encoded
 * with `+ = /` replaced by `- _ ~`, and sent as `Expires`, `Signature` and `Key-Pair-Id` query
 * parameters after any of the URL's own.
 */
import { createSign, type KeyObject } from 'node:crypto'

export interface CloudFrontCannedInput {
  /** The URL to sign, as clients will request it (scheme, host, path, own query). */
  url: string
  /** The public key's id in CloudFront (`K2JCJMDEHXQW5F`). */
  keyPairId: string
  /** The RSA private key, PEM or a KeyObject. NB: a secret. */
  privateKey: string | KeyObject
  /** Unix seconds after which CloudFront answers 403. */
  expires: number
}

/** CloudFront's URL-safe base64: `+` -> `-`, `=` -> `_`, `/` -> `~`. */
export function cloudFrontBase64(data: Buffer): string {
  return data.toString('base64').replace(/\+/g, '-').replace(/=/g, '_').replace(/\//g, '~')
}

/** The canned policy for `url` and `expires`, as signed. */
export function cannedPolicy(url: string, expires: number): string {
  return JSON.stringify({ Statement: [{ Resource: url, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }] })
}

/** The signed URL. */
export function signCloudFrontCanned({ url, keyPairId, privateKey, expires }: CloudFrontCannedInput): string {
  if (!Number.isInteger(expires) || expires <= 0) throw new Error('cdn: cloudfront expires must be whole Unix seconds')
  const signature = cloudFrontBase64(createSign('RSA-SHA1').update(cannedPolicy(url, expires)).sign(privateKey))
  // The parameters are appended as they are: their values are already URL-safe.
  return `${url}${url.includes('?') ? '&' : '?'}Expires=${expires}&Signature=${signature}&Key-Pair-Id=${encodeURIComponent(keyPairId)}`
}
