/**
 * Git-webhook deploys under load, end to end: two `plinth serve` nodes (one PostgreSQL, one Redis)
 * behind the generated nginx run the app module of `deploy.root/current` (its `GET /api/release`
 * says which release answered), started and restarted by deploy/ansible/files/plinthctl.sh. A
 * control `plinth serve` takes the push webhooks; its `deploy.activate` is `plinth deploy rollout`
 * over the two nodes. While autocannon reads and a loop writes through nginx: a wrong signature,
 * another branch and a commit whose tests fail deploy nothing; a signed push deploys v2 to both
 * nodes; `plinth deploy rollback` brings v1 back; and no request fails.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdirSync, mkdtempSync, readlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import type { NginxNode } from '../../src/deploy/nginx.ts'
import { defaults } from '../../src/config/schema.ts'
import { assertNone, createPosts, load, writes } from '../helpers/cannon.ts'
import { PLINTH_BIN, runCli, startServe, type ServeProcess } from '../helpers/cli.ts'
import { clusterSetup, superuserToken } from '../helpers/cluster.ts'
import { engines } from '../helpers/engines.ts'
import { commitRelease, git } from '../helpers/git.ts'
import { nginxSkip } from '../helpers/nginx.ts'
import { startNginxCluster, type NginxCluster } from '../helpers/nginx-cluster.ts'
import { redisSkip, unusedPort } from '../helpers/redis.ts'

const SECRET = 'a-webhook-secret-of-some-length'
const PLINTHCTL = fileURLToPath(new URL('../../deploy/ansible/files/plinthctl.sh', import.meta.url))

/** Commits an app module answering `GET /api/release` with `release`, and a test.sh exiting `code`. */
const commit = (repo: string, release: string, code: number) =>
  commitRelease(repo, release, code, { 'plinth.app.mjs': `export default (app) => {\n  app.http.get('/api/release', async () => ({ release: ${JSON.stringify(release)} }))\n}\n` })

/** A POSIX shell env file (what plinthctl.sh sources): every value single-quoted. */
const envFile = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}='${v.replaceAll("'", `'\\''`)}'`).join('\n') + '\n'

const pg = (await engines()).find((e) => e.engine === 'postgres')!
const skip = pg.skip || (await redisSkip()) || nginxSkip()

describe('git-webhook deploys under load', { skip, timeout: 600_000 }, () => {
  const cleanup: (() => Promise<unknown>)[] = []
  const commits: Record<string, string> = {}
  let nodes: NginxNode[]
  let edge: NginxCluster
  let control: ServeProcess
  let controlToken: string
  let deployEnv: Record<string, string>
  let root: string

  before(async () => {
    const { env, cwd } = await clusterSetup(cleanup, 'plinth-webhook-load')
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-webhook-load-'))
    const repo = path.join(dir, 'repo')
    root = path.join(dir, 'deploy')
    git(dir, 'init', '-q', '-b', 'main', repo)
    commits.v1 = commit(repo, 'v1', 0)
    commits.broken = commit(repo, 'broken', 1)
    commits.v2 = commit(repo, 'v2', 0)
    git(repo, 'checkout', '-q', '-b', 'feature')
    commits.feature = commit(repo, 'feature', 0)
    git(repo, 'checkout', '-q', 'main')

    // The nodes: behind nginx (trusted for X-Real-IP), draining 3 s on SIGTERM (above nginx's 2 s
    // upstream keep-alive), each running the current release's app module.
    nodes = [{ host: '127.0.0.1', port: await unusedPort() }, { host: '127.0.0.1', port: await unusedPort() }]
    const nodeEnv = path.join(dir, 'node.env')
    writeFileSync(nodeEnv, envFile({ ...env, PLINTH_RATE_LIMITS_ENABLED: 'false', PLINTH_TRUST_PROXY: '127.0.0.1', PLINTH_TRUSTED_PROXY_HEADERS: 'X-Real-IP', PLINTH_SHUTDOWN_DRAIN: '3000' }))
    const serve = `${process.execPath} ${PLINTH_BIN} serve --http 127.0.0.1:{port} --dir ${cwd} --app ${root}/current/plinth.app.mjs`
    const restart = `sh ${PLINTHCTL} restart ${dir}/{port}.pid ${dir}/{port}.log ${nodeEnv} -- ${serve}`
    deployEnv = {
      PLINTH_DEPLOY_REPO: repo,
      PLINTH_DEPLOY_ROOT: root,
      PLINTH_DEPLOY_BUILD: 'test -f plinth.app.mjs',
      PLINTH_DEPLOY_TEST: 'sh test.sh',
      PLINTH_DEPLOY_ACTIVATE: `${process.execPath} ${PLINTH_BIN} deploy rollout --nodes ${nodes.map((n) => `${n.host}:${n.port}`).join(',')} --restart "${restart}" --ready-timeout 30000`,
    }
    cleanup.push(async () => {
      for (const n of nodes) execFileSync('sh', [PLINTHCTL, 'stop', `${dir}/${n.port}.pid`, '/dev/null', '/dev/null'])
    })
    // Release 0001 (v1) from the CLI: its rollout starts both nodes.
    const first = await runCli(['deploy', 'release', commits.v1], deployEnv, dir)
    assert.equal(first.code, 0, first.stderr)

    edge = await startNginxCluster(nodes, defaults(cwd), 3)
    cleanup.push(() => edge.stop())
    await createPosts(edge.url, await superuserToken(edge.url))

    // The control host: its own SQLite folder and superuser; it takes the webhooks.
    const controlDir = path.join(dir, 'control')
    mkdirSync(controlDir)
    const su = await runCli(['superuser', 'upsert', 'admin@example.com', 'a-long-password'], {}, controlDir)
    assert.equal(su.code, 0, su.stderr)
    control = await startServe([], { ...deployEnv, PLINTH_DEPLOY_WEBHOOK_SECRET: SECRET }, controlDir)
    cleanup.push(async () => {
      control.child.kill('SIGTERM')
      await control.exited
    })
    controlToken = await superuserToken(control.url, 'admin@example.com')
  })
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined)
  })

  const push = (ref: string, commitId: string, signWith = SECRET) => {
    const payload = JSON.stringify({ ref, before: '0'.repeat(40), after: commitId, repository: { name: 'app' } })
    const signature = `sha256=${createHmac('sha256', signWith).update(payload).digest('hex')}`
    return fetch(`${control.url}/api/plinth/deploy/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature }, body: payload })
  }

  /** Polls the control host until its last deployment ended (the bound only turns a hang into a failure). */
  async function settled(): Promise<{ current: string | null; last: { state: string; step?: string; commit: string } }> {
    for (let i = 0; i < 1200; i++) {
      const res = await fetch(`${control.url}/api/plinth/deploy/releases`, { headers: { authorization: controlToken } })
      const r = (await res.json()) as { current: string | null; last: { state: string; step?: string; commit: string } }
      if (r.last?.state !== 'running') return r
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error('the deployment did not end within 120 s')
  }

  /** What the nodes answer through nginx, over enough requests to reach both. */
  async function releasesServed(): Promise<string[]> {
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) seen.add(((await (await fetch(`${edge.url}/api/release`)).json()) as { release: string }).release)
    return [...seen].sort()
  }

  test('refused pushes deploy nothing; a signed push rolls v2 out; rollback brings v1 back; no request fails', async () => {
    const release1 = readlinkSync(path.join(root, 'current'))
    assert.deepEqual(await releasesServed(), ['v1'])
    const reads = load(`${edge.url}/api/release`)
    const w = writes(edge.url)

    assert.equal((await push('refs/heads/main', commits.v2!, 'not-the-secret-at-all')).status, 401)
    assert.equal((await push('refs/heads/feature', commits.feature!)).status, 200) // another branch: ignored
    const broken = await push('refs/heads/main', commits.broken!)
    assert.equal(broken.status, 202, await broken.text())
    const failed = await settled()
    assert.deepEqual([failed.last.state, failed.last.step], ['failed', 'test'])
    assert.equal(readlinkSync(path.join(root, 'current')), release1, 'a failing test deploys nothing')
    assert.deepEqual(await releasesServed(), ['v1'])

    const good = await push('refs/heads/main', commits.v2!)
    assert.equal(good.status, 202, await good.text())
    const done = await settled()
    assert.equal(done.last.state, 'done', JSON.stringify(done.last))
    assert.match(done.current ?? '', new RegExp(`-${commits.v2!.slice(0, 7)}$`))
    assert.deepEqual(await releasesServed(), ['v2'])

    const back = await runCli(['deploy', 'rollback'], deployEnv, root)
    assert.equal(back.code, 0, back.stderr)
    assert.equal(readlinkSync(path.join(root, 'current')), release1)
    assert.deepEqual(await releasesServed(), ['v1'])

    await new Promise((r) => setTimeout(r, 500))
    const r = await reads.stop()
    const wr = await w.stop()
    assert.ok(r.requests.total > 100 && wr.ok > 10, `load ran: ${r.requests.total} reads, ${wr.ok} writes`)
    assertNone('reads', r.non2xx + r.errors + r.timeouts, r.requests.total, [JSON.stringify(r.statusCodeStats), ...reads.reqErrors].join('\n'))
    assertNone('writes', wr.failed.length, wr.ok + wr.failed.length, wr.failed.join('\n'))
  })
})
