/**
 * autocannon through its API for signed requests (RFC 9421): every request carries its own
 * `created`/`nonce` signature, as a real client's would (the server accepts each nonce once). The
 * base and `Signature-Input` come from the sdk/ helper (`signatureBase`, `signatureParams`: the
 * bytes an app sends); the HMAC (or a device key's ECDSA/Ed25519 signature) is node:crypto's, synchronous, made in `setupRequest` as each
 * request goes out. (The helper's own `sign()` uses WebCrypto, which is asynchronous, and
 * autocannon's `setupRequest` is not: signing ahead meant a pool of tens of thousands of header
 * objects whose garbage collection slowed the load generator more than the HMACs do.)
 * Prints autocannon's result as JSON; with `pid` (a server's process id, Linux) adds
 * `serverCpuMs`, that process's CPU time during the load.
 * Usage: node --import tsx bench/lib/autocannon-signed.mjs '{"url":...,"connections":N,"duration":S,"headers":{...},"key":{...}}'
 */
import autocannon from 'autocannon'
import { createHmac, createPrivateKey, randomBytes, sign } from 'node:crypto'
import { signatureBase, signatureParams } from '../../sdk/plinth-signing.ts'
import { cpuSeconds } from './servers.ts'

const opts = JSON.parse(process.argv[2])
// Without a key: the same per-request headers path, unsigned (the load generator's own cost, as a control).
const key = opts.key
const secret = key?.secret && Buffer.from(key.secret, 'base64')
const privateKey = key?.privateKeyPem && createPrivateKey(key.privateKeyPem)
/** The signature of `base` with the key: HMAC-SHA256 (a session key), ECDSA P-256 (r||s) or Ed25519 (device keys). */
function signatureOf(base) {
  if (secret) return createHmac('sha256', secret).update(base).digest('base64')
  if (key.alg === 'ed25519') return sign(null, Buffer.from(base), privateKey).toString('base64')
  return sign('sha256', Buffer.from(base), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64')
}
const components = ['@method', '@target-uri', ...(Object.keys(opts.headers).some((h) => h.toLowerCase() === 'authorization') ? ['authorization'] : [])]

function headersFor() {
  if (!key) return { ...opts.headers }
  const params = [['created', Math.floor(Date.now() / 1000)], ['nonce', randomBytes(16).toString('base64url')], ['keyid', key.keyid], ['alg', key.alg]]
  const base = signatureBase({ method: 'GET', url: opts.url, headers: opts.headers }, components, params)
  const signature = signatureOf(base)
  return { ...opts.headers, 'signature-input': `sig1=${signatureParams(components, params)}`, signature: `sig1=:${signature}:` }
}

const before = opts.pid ? cpuSeconds(opts.pid) : 0
const result = await autocannon({
  url: opts.url,
  connections: opts.connections,
  duration: opts.duration,
  // Optional: a fixed total rate (req/s) instead of as fast as the server answers.
  ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
  requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, headers: headersFor() }) }],
})
if (opts.pid) result.serverCpuMs = (cpuSeconds(opts.pid) - before) * 1000
process.stdout.write(JSON.stringify(result))
