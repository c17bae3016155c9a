/**
 * Git-webhook deploys against a real local git repository: each host's signature or token is
 * checked on the raw body; a signed push to the deploy branch builds, tests and activates a new
 * numbered release; another branch, a bad signature or a failing test deploy nothing; and
 * `plinth deploy rollback` puts the previous release back.
 */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startApp, type TestApp } from '../helpers/app.ts'
import { runCli } from '../helpers/cli.ts'
import { commitRelease, git } from '../helpers/git.ts'

const SECRET = 'a-webhook-secret-of-some-length'

/** Commits `test.sh` exiting `code` and `app.txt` = `text` on the checked-out branch; returns the commit id. */
const commit = (repo: string, text: string, code: number) => commitRelease(repo, text, code, { 'app.txt': text })

const body = (ref: string, after: string) => JSON.stringify({ ref, before: '0'.repeat(40), after, repository: { name: 'app' } })
const hmac = (alg: string, data: string) => createHmac(alg, SECRET).update(data).digest('hex')

describe('deploy webhook', () => {
  let t: TestApp
  let repo: string
  let root: string
  const commits: Record<string, string> = {}

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plinth-webhook-'))
    repo = path.join(dir, 'repo')
    root = path.join(dir, 'deploy')
    git(dir, 'init', '-q', '-b', 'main', repo)
    commits.v1 = commit(repo, 'v1', 0)
    commits.v2 = commit(repo, 'v2', 0)
    commits.broken = commit(repo, 'broken', 1)
    git(repo, 'checkout', '-q', '-b', 'feature')
    commits.feature = commit(repo, 'feature', 0)
    t = await startApp('sqlite', {
      deploy: {
        webhookSecret: SECRET,
        branch: 'main',
        repo,
        root,
        build: 'test -f app.txt && cp app.txt built.txt',
        test: 'sh test.sh',
        activate: `echo "$PWD" >> ${root}/activated.log`,
        keep: 5,
      },
    })
  })
  after(() => t.close())

  const send = (headers: Record<string, string>, payload: string) =>
    t.app.http.inject({ method: 'POST', url: '/api/plinth/deploy/webhook', headers: { 'content-type': 'application/json', ...headers }, payload })

  /** Polls the releases endpoint until the last deployment ended; the bound only turns a hang into a failure. */
  async function settled(): Promise<{ current: string | null; releases: { name: string; commit: string }[]; last: { state: string; step?: string; commit: string } }> {
    for (let i = 0; i < 600; i++) {
      const res = await t.call('GET', '/api/plinth/deploy/releases', { token: t.su })
      assert.equal(res.statusCode, 200, res.body)
      const r = res.json()
      if (r.last?.state !== 'running') return r
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error('the deployment did not end within 30 s')
  }

  test('a bad GitHub signature, a missing one, or no host headers: 401/400, nothing deployed', async () => {
    const payload = body('refs/heads/main', commits.v1!)
    const bad = await send({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac('sha256', payload + ' ')}` }, payload)
    assert.equal(bad.statusCode, 401)
    assert.deepEqual(Object.keys(bad.json()), ['status', 'message', 'data'])
    assert.equal((await send({ 'x-github-event': 'push' }, payload)).statusCode, 401)
    assert.equal((await send({}, payload)).statusCode, 400)
    assert.equal(existsSync(path.join(root, 'releases')), false)
  })

  test('a signed GitHub push to main builds, tests and activates release 0001', async () => {
    const payload = body('refs/heads/main', commits.v1!)
    const res = await send({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac('sha256', payload)}` }, payload)
    assert.equal(res.statusCode, 202, res.body)
    const r = await settled()
    assert.equal(r.last.state, 'done')
    const name = `0001-${commits.v1!.slice(0, 7)}`
    assert.equal(r.current, name)
    assert.equal(readlinkSync(path.join(root, 'current')), path.join('releases', name))
    assert.equal(readFileSync(path.join(root, 'current', 'built.txt'), 'utf8'), 'v1')
    assert.equal(readFileSync(path.join(root, 'activated.log'), 'utf8').trim(), path.join(root, 'releases', name))
  })

  test('a ping, a push to another branch: 200 ignored, nothing deployed', async () => {
    const ping = JSON.stringify({ zen: 'hi' })
    const p = await send({ 'x-github-event': 'ping', 'x-hub-signature-256': `sha256=${hmac('sha256', ping)}` }, ping)
    assert.equal(p.statusCode, 200)
    assert.match(p.json().message, /Ignored/)
    const payload = body('refs/heads/feature', commits.feature!)
    const f = await send({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }, payload)
    assert.equal(f.statusCode, 200)
    assert.match(f.json().message, /Ignored: a push to feature/)
    assert.equal(readdirSync(path.join(root, 'releases')).length, 1)
  })

  test('GitLab token: a wrong one is 401; the right one deploys release 0002', async () => {
    const payload = body('refs/heads/main', commits.v2!)
    assert.equal((await send({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': `${SECRET}x` }, payload)).statusCode, 401)
    assert.equal((await send({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }, payload)).statusCode, 202)
    const r = await settled()
    assert.equal(r.current, `0002-${commits.v2!.slice(0, 7)}`)
    assert.equal(readFileSync(path.join(root, 'current', 'built.txt'), 'utf8'), 'v2')
  })

  test('Gitee signed push of a commit whose tests fail: nothing deployed, current unchanged', async () => {
    const payload = body('refs/heads/main', commits.broken!)
    const ts = String(Date.now())
    const sign = createHmac('sha256', SECRET).update(`${ts}\n${SECRET}`).digest('base64')
    assert.equal((await send({ 'x-gitee-event': 'Push Hook', 'x-gitee-token': sign, 'x-gitee-timestamp': String(Date.now() - 7200_000) }, payload)).statusCode, 401)
    assert.equal((await send({ 'x-gitee-event': 'Push Hook', 'x-gitee-token': sign, 'x-gitee-timestamp': ts }, payload)).statusCode, 202)
    const r = await settled()
    assert.equal(r.last.state, 'failed')
    assert.equal(r.last.step, 'test')
    assert.equal(r.current, `0002-${commits.v2!.slice(0, 7)}`)
    assert.deepEqual(r.releases.map((x) => x.name), [`0001-${commits.v1!.slice(0, 7)}`, `0002-${commits.v2!.slice(0, 7)}`])
  })

  test('Coding: sha1 signature checked; a guest cannot read the releases', async () => {
    const payload = body('refs/heads/main', commits.v2!)
    assert.equal((await send({ 'x-coding-event': 'push', 'x-coding-signature': `sha1=${hmac('sha1', 'x')}` }, payload)).statusCode, 401)
    assert.equal((await t.call('GET', '/api/plinth/deploy/releases')).statusCode, 401)
  })

  test('plinth deploy rollback puts the previous release back and activates it', async () => {
    const env = { PLINTH_DEPLOY_ROOT: root, PLINTH_DEPLOY_REPO: repo, PLINTH_DEPLOY_ACTIVATE: `echo "$PWD" >> ${root}/activated.log` }
    const r = await runCli(['deploy', 'rollback'], env, root)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readlinkSync(path.join(root, 'current')), path.join('releases', `0001-${commits.v1!.slice(0, 7)}`))
    assert.equal(readFileSync(path.join(root, 'activated.log'), 'utf8').trim().split('\n').at(-1), path.join(root, 'releases', `0001-${commits.v1!.slice(0, 7)}`))
    const again = await runCli(['deploy', 'rollback'], env, root)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /no release before the current one/)
  })
})
