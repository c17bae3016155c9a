// autocannon through its API, for requests whose body must differ each time (creates of unique
// emails): every `[<id>]` in the body becomes a new id. autocannon's own `-I` flag miscounts the
// Content-Length (it assumes 27-character ids and gets 24), so the server waits for bytes that
// never come. Prints autocannon's result as JSON, like `autocannon --json`.
// Usage: node bench/lib/autocannon-unique.mjs '{"url":...,"connections":N,"duration":S,"method":...,"headers":{...},"body":"..."}'
import { randomBytes } from 'node:crypto'
import autocannon from 'autocannon'

const opts = JSON.parse(process.argv[2])
const prefix = randomBytes(4).toString('hex')
let n = 0
// Only the options given: an `undefined` would replace autocannon's default.
const given = Object.fromEntries(['duration', 'amount', 'timeout', 'sampleInt'].filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]))
const result = await autocannon({
  url: opts.url,
  connections: opts.connections,
  ...given,
  requests: [{ method: opts.method, headers: opts.headers, setupRequest: (req) => ({ ...req, body: opts.body.replaceAll('[<id>]', `${prefix}${(n++).toString(36)}`) }) }],
})
process.stdout.write(JSON.stringify(result))
