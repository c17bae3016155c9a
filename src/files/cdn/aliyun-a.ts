/**
 * Alibaba Cloud CDN URL signing, type A: `URL?auth_key={timestamp}-{rand}-{uid}-{md5hash}` with
 * `md5hash = md5("{path}-{timestamp}-{rand}-{uid}-{privateKey}")`, hex. The CDN refuses the URL
 * once `timestamp` + the validity period set in its console has passed (403), so `timestamp` is
 * the signing time; a later one lengthens the URL's life by the difference.
 */
import { createHash } from 'node:crypto'

export interface AliyunTypeAInput {
  /** The URL to sign, `https://cdn.example.com/path` (any query is kept; the path is signed as sent). */
  url: string
  /** The type A key from the CDN console. NB: a secret. */
  privateKey: string
  /** Unix seconds. */
  timestamp: number
  /** Letters and digits, no `-`; Alibaba's demos use "0". */
  rand?: string
  /** Unused by the CDN; "0". */
  uid?: string
}

/** The signed URL. */
export function signAliyunTypeA({ url, privateKey, timestamp, rand = '0', uid = '0' }: AliyunTypeAInput): string {
  if (rand.includes('-') || uid.includes('-')) throw new Error('cdn: aliyun-a rand and uid must not contain "-"')
  const u = new URL(url)
  const hash = createHash('md5').update(`${u.pathname}-${timestamp}-${rand}-${uid}-${privateKey}`).digest('hex')
  u.searchParams.append('auth_key', `${timestamp}-${rand}-${uid}-${hash}`)
  return u.toString()
}
