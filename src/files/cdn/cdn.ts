/**
 * Public file URLs through a CDN: the configured `cdn.baseUrl` plus a stored key, signed the way
 * the edge in front checks it. The records API calls `cdnUrl` for each file it returns.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto'
import type { PlinthConfig } from '../../config/schema.ts'
import { assertSafeKey } from '../files.ts'
import { signAliyunTypeA } from './aliyun-a.ts'
import { signCloudFrontCanned } from './cloudfront.ts'
import { signNginxSecureLink } from './nginx.ts'

type CdnConfig = PlinthConfig['cdn']

/** Parsed CloudFront keys by config object (the config is frozen, so one parse per process). */
const rsaKeys = new WeakMap<CdnConfig, KeyObject>()

/**
 * The public URL of the stored object `key` (`{collectionId}/{recordId}/{filename}`), signed by
 * `config.cdn.signer`, valid `ttlSeconds` from `now` (Alibaba type A: the console's validity
 * period from `now`); undefined when no CDN is configured (`cdn.baseUrl` empty), so the caller
 * serves the file itself. Throws on an unsafe key.
 */
export function cdnUrl(config: Pick<PlinthConfig, 'cdn'>, key: string, now: number = Date.now()): string | undefined {
  const cdn = config.cdn
  if (!cdn.baseUrl) return undefined
  assertSafeKey(key)
  const url = `${cdn.baseUrl.replace(/\/+$/, '')}/${key.split('/').map(encodeURIComponent).join('/')}`
  const seconds = Math.floor(now / 1000)
  switch (cdn.signer) {
    case 'none':
      return url
    case 'aliyun-a':
      return signAliyunTypeA({ url, privateKey: cdn.key, timestamp: seconds })
    case 'nginx':
      return signNginxSecureLink({ url, expression: cdn.expression, secret: cdn.key, expires: seconds + cdn.ttlSeconds })
    case 'cloudfront': {
      let privateKey = rsaKeys.get(cdn)
      if (!privateKey) rsaKeys.set(cdn, (privateKey = createPrivateKey(cdn.key)))
      return signCloudFrontCanned({ url, keyPairId: cdn.keyPairId, privateKey, expires: seconds + cdn.ttlSeconds })
    }
  }
}
