/**
 * The security layer through the real `plinth serve`: TLS (`--https` with files and `--https=dev`),
 * a bad certificate path as a start-up mistake, and rate limits shared by two nodes through Redis.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import { collect, runCli, startCli, startServe, type CliResult } from '../helpers/cli.ts'
import { clusterSetup } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { redisSkip } from '../helpers/redis.ts'

const cleanup: (() => Promise<unknown>)[] = []
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
})

/** `plinth serve --https ...` until it logs its https URL; stopped by `cleanup`. */
async function serveTls(https: string, dir: string): Promise<string> {
  const child = startCli(['serve', '--http', '127.0.0.1:0', `--https=${https}`, '--dir', dir, '--no-worker'], {}, dir)
  const exited = collect(child)
  cleanup.push(async () => {
    child.kill('SIGTERM')
    await exited
  })
  let out = ''
  return new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /"url":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(out)
      if (m) resolve(m[1]!)
    })
    void exited.then((r: CliResult) => reject(new Error(`plinth exited (${r.code}):\n${r.stdout}\n${r.stderr}`)))
  })
}

/** GET over TLS, trusting only `ca`. */
function get(url: string, ca: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('TLS', () => {
  test('--https=dev serves TLS with a certificate made for localhost, and --https CERT,KEY serves those files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-tls-'))
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
    const url = await serveTls('dev', dir)
    const ca = readFileSync(path.join(dir, 'dev-tls', 'cert.pem'))
    const res = await get(`${url}/api/health`, ca)
    assert.equal(res.status, 200)
    assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/)
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    // The same pair given as files, to a second server with another data folder.
    const other = mkdtempSync(path.join(tmpdir(), 'plinth-tls-'))
    cleanup.push(async () => rmSync(other, { recursive: true, force: true }))
    copyFileSync(path.join(dir, 'dev-tls', 'cert.pem'), path.join(other, 'c.pem'))
    copyFileSync(path.join(dir, 'dev-tls', 'key.pem'), path.join(other, 'k.pem'))
    const url2 = await serveTls('c.pem,k.pem', other)
    assert.equal((await get(`${url2}/api/health`, ca)).status, 200)
  })

  test('a certificate path that cannot be read stops start-up: one line, exit 2', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-tls-'))
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(path.join(dir, 'not-a-cert.pem'), 'hello')
    const missing = await runCli(['serve', '--http', '127.0.0.1:0', '--https', '/nonexistent/cert.pem,/nonexistent/key.pem', '--dir', dir], {}, dir)
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /^plinth: https: cannot read the certificate file \/nonexistent\/cert\.pem \(ENOENT\)\n$/)
    const garbage = await runCli(['serve', '--http', '127.0.0.1:0', '--https', 'not-a-cert.pem,not-a-cert.pem', '--dir', dir], {}, dir)
    assert.equal(garbage.code, 2)
    assert.match(garbage.stderr, /^plinth: https: \S+not-a-cert\.pem is not a PEM certificate\n$/)
  })
})

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip())

describe('rate limits on two nodes sharing Redis', { skip }, () => {
  test('one budget per client across both nodes; a spoofed X-Forwarded-For does not reset it', async () => {
    const setup = await clusterSetup(cleanup, 'plinth-limits')
    const cwd = setup.cwd
    const env = { ...setup.env, PLINTH_RATE_LIMITS_ENABLED: 'true' }
    writeFileSync(path.join(cwd, 'plinth.config.json'), JSON.stringify({ rateLimits: { rules: [{ label: '/api/', maxRequests: 4, duration: 60 }] } }))
    const nodes = []
    for (let i = 0; i < 2; i++) {
      nodes.push(
        await startServe(['--no-worker'], env, cwd, ({ child, exited }) =>
          cleanup.push(async () => {
            child.kill('SIGTERM')
            await exited
          }),
        ),
      )
    }
    const statuses: number[] = []
    let retry = ''
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${nodes[i % 2]!.url}/api/collections/users/auth-methods`, { headers: { 'x-forwarded-for': `198.51.100.${i}` } })
      statuses.push(res.status)
      retry = res.headers.get('retry-after') ?? ''
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429])
    assert.ok(Number(retry) >= 1 && Number(retry) <= 60, `Retry-After ${retry}`)
  })
})
