/**
 * `N=4000 npx tsx bench/signing-inject.ts`: what verifying a signature costs in CPU time, without
 * sockets or a load generator (both of which a busy machine makes noisy): two apps on SQLite, one
 * with signatures off and one requiring them on the posts routes, each asked N times for one record
 * by id as its owner through `app.http.inject()`, alternating, four rounds. Prints the process CPU
 * time per request (`process.cpuUsage()`) of each round and, at the end, the lowest of each target
 * (the least disturbed by other processes). The signed requests are signed beforehand with the
 * session HMAC key by the sdk/ helper, one fresh nonce each.
 */
import { startApp } from '../test/helpers/app.ts'
import { RequestSigner } from '../sdk/plinth-signing.ts'

const N = Number(process.env.N ?? 4000)
const ROUNDS = 4

async function setup(signedMode: boolean) {
  const t = await startApp('sqlite', signedMode ? { signatures: { mode: 'off', routes: { '/api/collections/posts/': 'required' } } } : {})
  const users = (await t.must('GET', '/api/collections/users')) as { id: string }
  await t.must('POST', '/api/collections', {
    name: 'posts', type: 'base', createRule: '', viewRule: 'owner = @request.auth.id',
    fields: [{ name: 'title', type: 'text' }, { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 }],
  })
  const u = (await t.must('POST', '/api/collections/users/records', { email: 'u@example.com', password: 'user-password-1', passwordConfirm: 'user-password-1' })) as { id: string }
  const post = (await t.call('POST', '/api/collections/posts/records', { body: { title: 'hello', owner: u.id } })).json<{ id: string }>()
  const res = await t.call('POST', '/api/collections/users/auth-with-password', { body: { identity: 'u@example.com', password: 'user-password-1' } })
  const body = res.json<{ token: string; signingKey?: { keyid: string; alg: 'hmac-sha256'; secret: string } }>()
  const path = `/api/collections/posts/records/${post.id}`
  const signer = body.signingKey ? new RequestSigner(body.signingKey) : undefined
  const headers: Record<string, string>[] = []
  for (let i = 0; i < (signer ? N * ROUNDS : 1); i++) {
    headers.push({ authorization: body.token, ...(signer ? await signer.sign({ method: 'GET', url: `http://localhost:80${path}`, headers: { authorization: body.token } }) : {}) })
  }
  let next = 0
  return { t, path, headers: () => headers[next++ % headers.length]! }
}

const targets = { unsigned: await setup(false), signed: await setup(true) }
const best = { unsigned: Infinity, signed: Infinity }
for (let round = 1; round <= ROUNDS; round++) {
  for (const name of ['unsigned', 'signed'] as const) {
    const x = targets[name]
    const c0 = process.cpuUsage()
    for (let i = 0; i < N; i++) {
      const r = await x.t.app.http.inject({ method: 'GET', url: x.path, headers: x.headers() })
      if (r.statusCode !== 200) throw new Error(`${name}: ${r.statusCode} ${r.body}`)
    }
    const c = process.cpuUsage(c0)
    const us = (c.user + c.system) / N
    best[name] = Math.min(best[name], us)
    console.log(`round ${round} ${name}: ${us.toFixed(1)} µs CPU per request`)
  }
}
console.log(`lowest: unsigned ${best.unsigned.toFixed(1)} µs, signed ${best.signed.toFixed(1)} µs; signing adds ${(best.signed - best.unsigned).toFixed(1)} µs (ratio ${(best.unsigned / best.signed).toFixed(2)})`)
await targets.signed.t.close()
await targets.unsigned.t.close()
