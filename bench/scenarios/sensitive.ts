/**
 * What a JWE-encrypted field costs (#15): a signed-in PATCH of a record's `sensitive` field sent as
 * compact JWE (RSA-OAEP-256 + A256GCM, to the server's current key from /api/plinth/keys), against
 * the same PATCH with the value in the clear, on `plinth serve` (SQLite). The server decrypts the
 * value on every request, before validation; the JWE is made once (a client makes one per value,
 * but what the server does is the same).
 *
 * A view carries no JWE (values are encrypted by the client, on the way in), so the "a view
 * with a JWE field" is measured as the write that carries one; the signed view is signing-view-sqlite.
 */
import { CompactEncrypt, importJWK, type JWK } from 'jose'
import { asAdmin, createUsers, freshDb, once, QUIET, USERS_ID } from '../lib/seed.ts'
import { startPlinth } from '../lib/servers.ts'
import type { BenchRequest, RunningServer, Scenario, Target } from '../lib/types.ts'

/** Both targets and every round share the key ring stored in the database: one master key for all. */
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64')
const VALUE = '123-45-6789'

const seed = once(async (engine: 'sqlite') => {
  const dbUrl = await freshDb(engine)
  return asAdmin(dbUrl, async (admin) => {
    await admin.call('POST', '/api/collections', {
      name: 'vault',
      viewRule: 'owner = @request.auth.id',
      updateRule: 'owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'secret', type: 'text', sensitive: true },
        { name: 'owner', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
      ],
    })
    const { ids, first } = await createUsers(admin, ['ann', 'bob'])
    const [recordId] = await admin.createMany('vault', ids.map((owner) => ({ title: 'mine', secret: VALUE, owner })))
    return { dbUrl, token: first.token, recordId: recordId! }
  }, { PLINTH_MASTER_KEY: MASTER_KEY })
})

const start = async (): Promise<RunningServer> => startPlinth({ PLINTH_DB: (await seed('sqlite')).dbUrl, PLINTH_MASTER_KEY: MASTER_KEY, ...QUIET })

async function patch(secret: string): Promise<BenchRequest> {
  const s = await seed('sqlite')
  return {
    method: 'PATCH',
    path: `/api/collections/vault/records/${s.recordId}`,
    headers: { authorization: s.token, 'content-type': 'application/json' },
    body: JSON.stringify({ secret }),
  }
}

const plain: Target = {
  name: 'plinth-plain',
  notes: 'plinth serve, PATCH of a sensitive text field, the value in the clear',
  start,
  request: () => patch(VALUE),
}

const jwe: Target = {
  name: 'plinth-jwe',
  notes: 'plinth serve, the same PATCH with the value as compact JWE (RSA-OAEP-256 2048-bit + A256GCM)',
  start,
  async request(server) {
    const res = await fetch(`${server.url}/api/plinth/keys`)
    const [jwk] = ((await res.json()) as { keys: JWK[] }).keys
    if (!res.ok || !jwk?.kid) throw new Error(`bench sensitive: /api/plinth/keys gave ${res.status} without a key`)
    const key = await importJWK(jwk, 'RSA-OAEP-256')
    const value = await new CompactEncrypt(new TextEncoder().encode(VALUE)).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: jwk.kid }).encrypt(key)
    return patch(value)
  },
}

export default {
  name: 'sensitive-update-sqlite',
  description: 'PATCH a sensitive field as its owner (SQLite): the value in the clear, then as compact JWE',
  reference: 'plinth-plain',
  targets: [plain, jwe],
} satisfies Scenario
