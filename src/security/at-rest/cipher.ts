/**
 * Encryption at rest for fields marked `encrypt` (records/fields/at-rest.ts): AES-256-GCM with a
 * key from `keys.atRestKey` (`PLINTH_AT_REST_KEY`, or `PLINTH_AT_REST_KEY_FILE`).
 *
 * The setting is a comma list of 32-byte base64 keys: the first encrypts, every one decrypts. A
 * stored value names its key: `$pe1$<kid>$<base64url(iv | ciphertext | tag)>`, where `kid` is 8
 * characters of a SHA-256 of the key (never the key), so a new key goes first in the list and
 * the values written under the old one still read until they are next written.
 * The record id is the additional authenticated data: a value copied into another record's row
 * (by someone with database access but not the key) does not decrypt there.
 * NB: key material. Never log a key; errors name the setting and the key id only.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { ConfigError } from '../../config/errors.ts'
import type { FieldCipher } from '../../records/fields/at-rest.ts'

const PREFIX = '$pe1$'
const KID_LENGTH = 8
const IV_BYTES = 12
const TAG_BYTES = 16

/** A key the setting names but the value does not, or the other way round: the operator must fix it. */
export class AtRestKeyError extends Error {}

/** The key id stored with each value: 8 characters of SHA-256 over a label and the key. */
export function atRestKeyId(key: Uint8Array): string {
  return createHash('sha256').update('plinth at-rest key id\0').update(key).digest('base64url').slice(0, KID_LENGTH)
}

/** The keys of `keys.atRestKey` (first: current). A ConfigError naming the setting for a bad one. */
export function parseAtRestKeys(setting: string): Uint8Array[] {
  const parts = setting.split(',').map((s) => s.trim()).filter(Boolean)
  return parts.map((p, i) => {
    const key = Buffer.from(p, 'base64')
    if (key.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(p)) {
      throw new ConfigError(`config: keys.atRestKey: key ${i + 1} must be 32 bytes, base64 (openssl rand -base64 32)`)
    }
    return key
  })
}

export class AtRestCipher implements FieldCipher {
  readonly #keys = new Map<string, Uint8Array>()
  readonly #current: { kid: string; key: Uint8Array } | undefined

  constructor(keys: readonly Uint8Array[]) {
    for (const key of keys) {
      const kid = atRestKeyId(key)
      if (this.#keys.has(kid)) throw new ConfigError('config: keys.atRestKey: the same key is listed twice')
      this.#keys.set(kid, key)
    }
    const first = keys[0]
    this.#current = first && { kid: atRestKeyId(first), key: first }
  }

  get canSeal(): boolean {
    return this.#current !== undefined
  }

  isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX)
  }

  seal(plain: string, aad: string): string {
    const cur = this.#current
    if (!cur) throw new AtRestKeyError('a field is marked encrypt but keys.atRestKey is not set')
    const iv = randomBytes(IV_BYTES)
    const c = createCipheriv('aes-256-gcm', cur.key, iv)
    c.setAAD(Buffer.from(aad, 'utf8'))
    const body = Buffer.concat([iv, c.update(plain, 'utf8'), c.final(), c.getAuthTag()])
    return `${PREFIX}${cur.kid}$${body.toString('base64url')}`
  }

  /**
   * The plaintext of a sealed value; undefined when it is not one of ours or does not
   * authenticate (a value written before the field was marked, or one moved from another record).
   * Throws AtRestKeyError when it names a key that is not configured: a server that lost a key
   * must say so, not serve ciphertext as if it were the value.
   */
  open(stored: string, aad: string): string | undefined {
    if (!stored.startsWith(PREFIX)) return undefined
    const kid = stored.slice(PREFIX.length, PREFIX.length + KID_LENGTH)
    if (stored[PREFIX.length + KID_LENGTH] !== '$') return undefined
    const key = this.#keys.get(kid)
    if (!key) throw new AtRestKeyError(`a value is encrypted with at-rest key ${kid}, which keys.atRestKey does not list`)
    const body = Buffer.from(stored.slice(PREFIX.length + KID_LENGTH + 1), 'base64url')
    if (body.length < IV_BYTES + TAG_BYTES) return undefined
    try {
      const d = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES))
      d.setAAD(Buffer.from(aad, 'utf8'))
      d.setAuthTag(body.subarray(body.length - TAG_BYTES))
      return Buffer.concat([d.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), d.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}
