/**
 * What request signatures cost: the records-view-sqlite request (a signed-in view by id under an
 * owner rule) on `plinth serve` with signatures off, against the same request signed with the
 * session's HMAC key (RFC 9421, `signatures.routes` requiring them on the posts collection), each
 * request with a fresh nonce the server records (counters in process); and signed with a
 * registered device key instead, ECDSA P-256 (an iPhone's Secure Enclave) and Ed25519. NB: the
 * load generator makes each device signature too (node:crypto, ~30-60 µs), on the same two cores.
 */
import { generateKeyPairSync } from 'node:crypto'
import { QUIET } from '../lib/seed.ts'
import { startPlinth } from '../lib/servers.ts'
import type { BenchRequest, RunningServer, Scenario, Target } from '../lib/types.ts'
import { seed } from './records.ts'

const env = async () => ({ PLINTH_DB: (await seed('sqlite')).dbUrl, PLINTH_RATE_LIMITS_ENABLED: 'false', ...QUIET })
const path = async () => `/api/collections/posts/records/${(await seed('sqlite')).postId}`

const unsigned: Target = {
  name: 'plinth-unsigned',
  notes: 'plinth serve, signatures off',
  start: async () => startPlinth(await env()),
  request: async () => ({ path: await path(), headers: { authorization: (await seed('sqlite')).token } }),
}

/** The signed target's load generator path (headers set per request by setupRequest) without signatures: its own cost. */
const control: Target = {
  name: 'plinth-unsigned-setup',
  notes: 'plinth serve, signatures off, sent through the signed load generator (per-request headers) unsigned',
  start: unsigned.start,
  request: async () => ({ path: await path(), headers: { authorization: (await seed('sqlite')).token }, signWith: 'unsigned-control' }),
}

/** A refresh (not checked: only the posts routes require signatures) gives a token and its session key. */
async function signedView(server: RunningServer): Promise<BenchRequest> {
  const res = await fetch(`${server.url}/api/collections/users/auth-refresh`, { method: 'POST', headers: { authorization: (await seed('sqlite')).token } })
  const body = (await res.json()) as { token: string; signingKey?: { keyid: string; alg: 'hmac-sha256'; secret: string } }
  if (!res.ok || !body.signingKey) throw new Error(`bench signing: auth-refresh gave ${res.status} without a signing key`)
  return { path: await path(), headers: { authorization: body.token }, signWith: body.signingKey }
}

const signed: Target = {
  name: 'plinth-signed',
  notes: 'plinth serve, signatures required on /api/collections/posts/, HMAC session key, a fresh nonce per request',
  start: async () => startPlinth(await env(), { signatures: { mode: 'off', routes: { '/api/collections/posts/': 'required' } } }),
  request: signedView,
}

/** A device key (ECDSA P-256, as an iPhone's Secure Enclave holds, or Ed25519) registered for the user; its private half signs. */
function deviceSigned(alg: 'ecdsa-p256-sha256' | 'ed25519'): Target {
  return {
    name: alg === 'ed25519' ? 'plinth-signed-ed25519' : 'plinth-signed-p256',
    notes: `plinth serve, signatures required on /api/collections/posts/, a registered ${alg === 'ed25519' ? 'Ed25519' : 'ECDSA P-256'} device key, a fresh nonce per request`,
    start: signed.start,
    async request(server) {
      const token = (await seed('sqlite')).token
      const pair = alg === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const res = await fetch(`${server.url}/api/plinth/devices`, {
        method: 'POST',
        headers: { authorization: token, 'content-type': 'application/json' },
        body: JSON.stringify({ alg, publicKey: pair.publicKey.export({ format: 'jwk' }), name: 'bench' }),
      })
      const body = (await res.json()) as { keyid?: string }
      if (!res.ok || !body.keyid) throw new Error(`bench signing: registering a device key gave ${res.status}`)
      return { path: await path(), headers: { authorization: token }, signWith: { keyid: body.keyid, alg, privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() } }
    },
  }
}

export default {
  name: 'signing-view-sqlite',
  description: 'GET one record by id as its owner (SQLite): unsigned, then signed with the session HMAC key (RFC 9421)',
  reference: 'plinth-unsigned',
  targets: [unsigned, control, signed, deviceSigned('ecdsa-p256-sha256'), deviceSigned('ed25519')],
} satisfies Scenario
