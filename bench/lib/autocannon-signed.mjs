/**
 * autocannon through its API for signed requests (RFC 9421, the sdk/ helper): every request
 * carries its own `created`/`nonce` signature, as a real client's would (the server accepts each
 * nonce once). autocannon's `setupRequest` is synchronous and WebCrypto is not, so `pool`
 * signatures are made before the load starts; a run that outlasts them would be refused as
 * replays, which shows as non-2xx answers. Prints autocannon's result as JSON.
 * Usage: node --import tsx bench/lib/autocannon-signed.mjs '{"url":...,"connections":N,"duration":S,"headers":{...},"key":{...},"pool":N}'
 */
import autocannon from 'autocannon'
import { RequestSigner } from '../../sdk/plinth-signing.ts'

const opts = JSON.parse(process.argv[2])
// Without a key: the same per-request headers path, unsigned (the load generator's own cost, as a control).
const signer = opts.key ? new RequestSigner(opts.key) : undefined
const signed = []
for (let i = 0; i < (signer ? opts.pool : 1); i++) signed.push({ ...opts.headers, ...(signer ? await signer.sign({ method: 'GET', url: opts.url, headers: opts.headers }) : {}) })
let n = 0
const result = await autocannon({
  url: opts.url,
  connections: opts.connections,
  duration: opts.duration,
  // Optional: a fixed total rate (req/s) instead of as fast as the server answers.
  ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
  requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, headers: signed[n++ % signed.length] }) }],
})
process.stdout.write(JSON.stringify(result))
