/**
 * Nonces are spent across nodes: two real `plinth serve` processes on one PostgreSQL and one
 * Redis, with PLINTH_SIGNATURES=required. A request signed with the session key from a sign-in on
 * node A is accepted by A; the very same bytes sent to node B (behind one load balancer both see
 * the same Host) are refused as replayed, and B accepts a fresh signature with the same key (it
 * derives the session key itself, with nothing stored).
 */
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { after, describe, test } from 'node:test'
import { RequestSigner, signInit, type ClientKey } from '../../sdk/plinth-signing.ts'
import { startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip } from '../helpers/redis.ts'

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip())

/** One request to `node` with exactly these headers (Host included) and body. */
function send(node: ServeProcess, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<{ status: number; code?: string; text: string }> {
  const u = new URL(node.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode!, code: res.headers['x-plinth-error'] as string | undefined, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('signature nonces shared by two nodes', { skip }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  test('a request accepted by one node is refused as replayed by the other', async () => {
    const { env, cwd } = await clusterSetup(cleanup, 'plinth-sig-nodes')
    const nodeEnv = { ...env, PLINTH_SIGNATURES: 'required' }
    const start = () => startServe([], nodeEnv, cwd, ({ child, exited }) => cleanup.push(async () => (child.kill('SIGTERM'), await exited)))
    const a = await start()
    const b = await start()
    const PUBLIC = 'http://api.example.test'

    const login = await fetch(`${a.url}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'root@example.com', password: 'a-long-password' }),
    })
    assert.equal(login.status, 200)
    const { token, signingKey } = (await login.json()) as { token: string; signingKey: ClientKey }
    const signer = new RequestSigner(signingKey)

    const path = '/api/collections/users/records?perPage=1'
    const init = await signInit(signer, PUBLIC + path, { method: 'GET', headers: { authorization: token } })
    const headers = { ...(init.headers as Record<string, string>), host: 'api.example.test' }
    const first = await send(a, 'GET', path, headers)
    assert.equal(first.status, 200, first.text)
    const replay = await send(b, 'GET', path, headers)
    assert.equal(replay.status, 401)
    assert.equal(replay.code, 'signature_replayed')

    const fresh = await signInit(signer, PUBLIC + path, { method: 'GET', headers: { authorization: token } })
    const onB = await send(b, 'GET', path, { ...(fresh.headers as Record<string, string>), host: 'api.example.test' })
    assert.equal(onB.status, 200, onB.text)
  })
})
