/**
 * The server's RSA key pairs for sensitive fields: clients encrypt with the current public key
 * (published as a JWKS at /api/plinth/keys), as compact JWE (RSA-OAEP-256 + A256GCM) naming its
 * `kid`; the server decrypts with the matching private key. A rotation makes a new current key;
 * the old ones still decrypt for `graceMs`, so a client holding the old JWKS keeps working.
 *
 * Private keys live in the `_keys` table encrypted with the master key (AES-256-GCM), so every
 * node shares them and a database dump alone reveals none.
 * NB: key material. Never log a private key or the master key.
 */
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import type { Kysely } from 'kysely'
import { KEYS_TABLE } from '../../sql/migrations/0009-keys-devices.ts'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

interface KeyRow {
  kid: string
  publicJwk: string
  privateEnc: string
  created: number | string
  retired: number | string | null
}

interface LoadedKey {
  kid: string
  publicJwk: Record<string, unknown>
  privateKey: KeyObject
  created: number
  retired: number | null
}

/** AES-256-GCM with the master key: `iv.tag.ciphertext`, base64url parts. */
export function sealWithMaster(master: Uint8Array, plain: Uint8Array): string {
  const iv = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', master, iv)
  const body = Buffer.concat([c.update(plain), c.final()])
  return [iv, c.getAuthTag(), body].map((b) => b.toString('base64url')).join('.')
}

export function openWithMaster(master: Uint8Array, sealed: string): Buffer {
  const [iv, tag, body] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'))
  if (!iv || !tag || !body) throw new Error('sealed value is malformed')
  const d = createDecipheriv('aes-256-gcm', master, iv)
  d.setAuthTag(tag)
  return Buffer.concat([d.update(body), d.final()])
}

export class KeyRing {
  private keys: LoadedKey[] = []
  private loadedAt = 0

  constructor(
    private readonly db: () => Db,
    private readonly master: Uint8Array,
    /** How long a retired key still decrypts, ms. */
    private readonly graceMs: number,
    /** How often other nodes' rotations are picked up, ms. */
    private readonly refreshMs = 60_000,
  ) {
    if (master.length !== 32) throw new Error('the master key must be 32 bytes')
  }

  private ready: Promise<void> | undefined

  /**
   * Loads the keys on first use, generating the first pair when there is none (so a server that
   * never serves the JWKS never spends the RSA key generation at start-up).
   */
  private ensure(): Promise<void> {
    this.ready ??= (async () => {
      await this.reload()
      if (!this.current()) {
        await this.insertNew()
        await this.reload()
      }
    })().catch((err: unknown) => {
      this.ready = undefined
      throw err
    })
    return this.ready
  }

  private async reload(): Promise<void> {
    const rows = (await this.db().selectFrom(KEYS_TABLE).selectAll().orderBy('created', 'desc').execute()) as KeyRow[]
    this.keys = rows.map((r) => ({
      kid: r.kid,
      publicJwk: JSON.parse(r.publicJwk) as Record<string, unknown>,
      privateKey: createPrivateKey({ key: openWithMaster(this.master, r.privateEnc), format: 'der', type: 'pkcs8' }),
      created: Number(r.created),
      retired: r.retired === null ? null : Number(r.retired),
    }))
    this.loadedAt = Date.now()
  }

  private async fresh(): Promise<void> {
    if (Date.now() - this.loadedAt > this.refreshMs) await this.reload()
  }

  private async insertNew(): Promise<string> {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const kid = randomBytes(12).toString('base64url')
    const jwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, use: 'enc', alg: 'RSA-OAEP-256' }
    const der = privateKey.export({ format: 'der', type: 'pkcs8' })
    await this.db().insertInto(KEYS_TABLE).values({ kid, publicJwk: JSON.stringify(jwk), privateEnc: sealWithMaster(this.master, der), created: Date.now(), retired: null }).execute()
    return kid
  }

  private current(): LoadedKey | undefined {
    return this.keys.find((k) => k.retired === null)
  }

  /** The public JWKS: the current key (clients encrypt to it). */
  async jwks(): Promise<{ keys: Record<string, unknown>[] }> {
    await this.ensure()
    await this.fresh()
    const cur = this.current()
    return { keys: cur ? [cur.publicJwk] : [] }
  }

  /** Makes a new current key; the previous ones are retired now and decrypt until the grace ends. Returns the new kid. */
  async rotate(now = Date.now()): Promise<string> {
    await this.ensure()
    await this.db().updateTable(KEYS_TABLE).set({ retired: now }).where('retired', 'is', null).execute()
    const kid = await this.insertNew()
    await this.reload()
    return kid
  }

  /** The private key for `kid` if it may still decrypt; reloads once for a kid this node has not seen. */
  async privateKey(kid: string, now = Date.now()): Promise<KeyObject | undefined> {
    await this.ensure()
    let key = this.keys.find((k) => k.kid === kid)
    // An unknown kid may be another node's new key; reloading at most once a second keeps made-up kids cheap.
    if (!key && Date.now() - this.loadedAt > 1000) {
      await this.reload()
      key = this.keys.find((k) => k.kid === kid)
    }
    if (!key || (key.retired !== null && now > key.retired + this.graceMs)) return undefined
    return key.privateKey
  }
}
