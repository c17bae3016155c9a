/**
 * Device keys: public keys (ECDSA P-256 or Ed25519, as JWKs) that a signed-in client registers
 * so its requests can be signed by a key that never leaves the device (the Secure Enclave on
 * iOS). A device key signs only for the auth record that registered it.
 */
import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { SqlUniqueViolationError } from '../../sql/errors.ts'
import { DEVICES_TABLE } from '../../sql/migrations/0009-keys-devices.ts'
import { publicKeyOf, type SignatureKey } from './rfc9421.ts'

export const DEVICE_KEY_PREFIX = 'd_'
/** How many device keys one auth record may hold. */
export const MAX_DEVICES_PER_RECORD = 20

export type DeviceAlgorithm = 'ecdsa-p256-sha256' | 'ed25519'

export interface DeviceJson {
  id: string
  keyid: string
  name: string
  alg: DeviceAlgorithm
  publicKey: Record<string, unknown>
  created: string
}

interface DeviceRow {
  id: string
  collectionId: string
  recordId: string
  name: string
  alg: string
  publicKey: string
  created: number | string
}

export interface Owner {
  collectionId: string
  recordId: string
}

// NB: `any` is Kysely's convention for a schema known only at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any>

function toJson(row: DeviceRow): DeviceJson {
  return {
    id: row.id,
    keyid: row.id,
    name: row.name,
    alg: row.alg as DeviceAlgorithm,
    publicKey: JSON.parse(row.publicKey) as Record<string, unknown>,
    created: new Date(Number(row.created)).toISOString(),
  }
}

/** The only public members of a JWK we keep (a private `d` sent by mistake is dropped). */
function publicMembers(jwk: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of ['kty', 'crv', 'x', 'y']) if (typeof jwk[k] === 'string') out[k] = jwk[k] as string
  return out
}

/** Parsed public keys kept (`DeviceKeys.keyFor`); the map starts afresh when it fills. */
const MAX_PARSED_KEYS = 10_000

export class DeviceKeys {
  /**
   * Verifying keys by row id and stored JWK: parsing a P-256 JWK costs as much as verifying with it
   * (~45 µs each here). The row is still read on every request, so a removed key stops at once on
   * every node; only the parse of an unchanged row is saved.
   */
  readonly #parsed = new Map<string, { publicKey: string; key: SignatureKey }>()

  constructor(private readonly db: () => Db) {}

  /** Registers a key; throws Error('invalid key') when the JWK is not a public key of `alg`, Error('too many') over the cap. */
  async register(owner: Owner, alg: DeviceAlgorithm, jwk: Record<string, unknown>, name: string): Promise<DeviceJson> {
    const pub = publicMembers(jwk)
    try {
      publicKeyOf(alg, pub)
    } catch {
      throw new Error('invalid key')
    }
    const db = this.db()
    const row: DeviceRow = { id: DEVICE_KEY_PREFIX + randomBytes(16).toString('base64url'), ...owner, name, alg, publicKey: JSON.stringify(pub), created: Date.now() }
    // The lowest free slot; two registrations at once that pick the same one meet the unique index
    // (collectionId, recordId, slot), and the one that lost looks again. So the cap holds on
    // every engine without a lock; each retry means another registration won a slot.
    for (let attempt = 0; attempt < MAX_DEVICES_PER_RECORD; attempt++) {
      const taken = await db.selectFrom(DEVICES_TABLE).select('slot').where('collectionId', '=', owner.collectionId).where('recordId', '=', owner.recordId).execute()
      const used = new Set(taken.map((r) => Number((r as { slot: unknown }).slot)))
      let slot = 0
      while (used.has(slot)) slot++
      if (slot >= MAX_DEVICES_PER_RECORD) throw new Error('too many')
      try {
        await db.insertInto(DEVICES_TABLE).values({ ...row, slot }).execute()
        return toJson(row)
      } catch (err) {
        if (!(err instanceof SqlUniqueViolationError)) throw err
      }
    }
    throw new Error('too many')
  }

  async list(owner: Owner): Promise<DeviceJson[]> {
    const rows = (await this.db().selectFrom(DEVICES_TABLE).selectAll().where('collectionId', '=', owner.collectionId).where('recordId', '=', owner.recordId).orderBy('created').execute()) as DeviceRow[]
    return rows.map(toJson)
  }

  /** True when a key of `owner` was removed. */
  async remove(owner: Owner, id: string): Promise<boolean> {
    const res = await this.db().deleteFrom(DEVICES_TABLE).where('id', '=', id).where('collectionId', '=', owner.collectionId).where('recordId', '=', owner.recordId).executeTakeFirst()
    return Number(res.numDeletedRows) > 0
  }

  /** The verifying key `keyid` names if it belongs to `owner`; undefined otherwise. */
  async keyFor(keyid: string, owner: Owner): Promise<SignatureKey | undefined> {
    if (!keyid.startsWith(DEVICE_KEY_PREFIX) || keyid.length > 64) return undefined
    const row = (await this.db().selectFrom(DEVICES_TABLE).selectAll().where('id', '=', keyid).executeTakeFirst()) as DeviceRow | undefined
    if (!row || row.collectionId !== owner.collectionId || row.recordId !== owner.recordId) return undefined
    const hit = this.#parsed.get(row.id)
    if (hit?.publicKey === row.publicKey) return hit.key
    const key = publicKeyOf(row.alg as DeviceAlgorithm, JSON.parse(row.publicKey) as Record<string, string>)
    if (this.#parsed.size >= MAX_PARSED_KEYS) this.#parsed.clear()
    this.#parsed.set(row.id, { publicKey: row.publicKey, key })
    return key
  }
}
