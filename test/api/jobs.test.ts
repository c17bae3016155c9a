/**
 * The superuser's jobs and crons API (PocketBase's `GET /api/crons`, `POST /api/crons/{id}`; Plinth's
 * `/api/jobs`) and the `plinth_jobs` gauge, through app.inject() on a real app (SQLite, SQL queue).
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { systemRequest } from '../../src/records/record.ts'
import { startApp, type TestApp } from '../helpers/app.ts'

/** Resolves once `check` holds (every 20 ms); the bound only turns a hang into a failure. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + 60_000
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('jobs and crons API', () => {
  let t: TestApp
  let user: string
  const cronRuns: Date[] = []
  let failedId: string

  before(async () => {
    t = await startApp('sqlite')
    const { app } = t
    app.cron('nightly', '0 3 * * *', ({ tick }) => void cronRuns.push(tick))
    app.cron('a-first', '*/5 * * * *', () => {})
    let calls = 0
    app.jobs.define('mail', () => {
      calls++
      if (calls === 1) throw new Error('smtp said no')
    }, { attempts: 1 })
    app.jobs.startWorker()
    failedId = await app.jobs.enqueue('mail', { to: 'a@example.com' }, { jobId: 'welcome-1' })
    await until('the dead letter', async () => (await app.jobs.get('mail', failedId))?.state === 'failed')
    await app.records.create('users', { email: 'u@example.com', password: 'password-123', passwordConfirm: 'password-123' }, systemRequest())
    user = await t.login('users', 'u@example.com', 'password-123')
  })
  after(() => t?.close())

  const scenarios: { name: string; method: string; url: string; who: 'guest' | 'user' | 'su'; status: number; body?: unknown }[] = [
    { name: 'crons: guest', method: 'GET', url: '/api/crons', who: 'guest', status: 401 },
    { name: 'crons: a user', method: 'GET', url: '/api/crons', who: 'user', status: 403 },
    {
      name: 'crons: superuser, sorted by id', method: 'GET', url: '/api/crons', who: 'su', status: 200,
      body: [{ id: '__pbMFACleanup__', expression: '0 * * * *' }, { id: '__pbOTPCleanup__', expression: '0 * * * *' }, { id: '__plinthAuditCleanup__', expression: '17 * * * *' }, { id: '__plinthFilesCleanup__', expression: '43 3 * * *' }, { id: '__plinthLogsCleanup__', expression: '11 3 * * *' }, { id: '__plinthPushCleanup__', expression: '41 * * * *' }, { id: 'a-first', expression: '*/5 * * * *' }, { id: 'nightly', expression: '0 3 * * *' }],
    },
    { name: 'run cron: unknown', method: 'POST', url: '/api/crons/nope', who: 'su', status: 404 },
    { name: 'run cron: a user', method: 'POST', url: '/api/crons/nightly', who: 'user', status: 403 },
    { name: 'jobs: guest', method: 'GET', url: '/api/jobs', who: 'guest', status: 401 },
    { name: 'jobs of an unknown name', method: 'GET', url: '/api/jobs/nope', who: 'su', status: 404 },
    { name: 'jobs: a bad state', method: 'GET', url: '/api/jobs/mail?state=lost', who: 'su', status: 400 },
    { name: 'job: unknown id', method: 'GET', url: '/api/jobs/mail/nope', who: 'su', status: 404 },
  ]
  for (const s of scenarios) {
    test(s.name, async () => {
      const token = s.who === 'su' ? t.su : s.who === 'user' ? user : undefined
      const res = await t.call(s.method, s.url, { token })
      assert.equal(res.statusCode, s.status, res.body)
      if (s.status >= 400) assert.deepEqual(Object.keys(res.json()).sort(), ['data', 'message', 'status'])
      if (s.body !== undefined) assert.deepEqual(res.json(), s.body)
    })
  }

  test('a cron runs on demand', async () => {
    const res = await t.call('POST', '/api/crons/nightly', { token: t.su })
    assert.equal(res.statusCode, 204)
    await until('the manual run', () => cronRuns.length === 1)
  })

  test('a dead letter is counted, listed, shown with its error, retried and deleted', async () => {
    const counts = (await t.must('GET', '/api/jobs')) as { queue: string; counts: Record<string, Record<string, number>>; paused: string[] }
    assert.equal(counts.queue, 'sql')
    assert.equal(counts.counts.mail?.failed, 1)
    assert.equal(counts.counts['cron.nightly']?.failed, 0)
    const list = (await t.must('GET', '/api/jobs/mail')) as { items: { id: string; error: string }[] }
    assert.deepEqual(list.items.map((j) => [j.id, j.error]), [['welcome-1', 'smtp said no']])
    const job = (await t.must('GET', '/api/jobs/mail/welcome-1')) as Record<string, unknown>
    assert.equal(job.state, 'failed')
    assert.equal(job.attempts, 1)
    assert.deepEqual(job.data, { to: 'a@example.com' })

    const metrics = await t.call('GET', '/api/metrics', { token: t.su })
    assert.match(metrics.body, /plinth_jobs\{queue="sql",name="mail",state="failed"\} 1/)

    assert.deepEqual(counts.paused, [])
    assert.equal((await t.call('POST', '/api/jobs/mail/pause', { token: user })).statusCode, 403)
    assert.equal((await t.call('POST', '/api/jobs/mail/pause', { token: t.su })).statusCode, 204)
    assert.deepEqual(((await t.must('GET', '/api/jobs')) as { paused: string[] }).paused, ['mail'])
    assert.equal((await t.call('POST', '/api/jobs/mail/resume', { token: t.su })).statusCode, 204)
    assert.deepEqual(((await t.must('GET', '/api/jobs')) as { paused: string[] }).paused, [])

    assert.equal((await t.call('DELETE', '/api/jobs/mail/welcome-1', { token: user })).statusCode, 403)
    assert.equal((await t.call('POST', '/api/jobs/mail/welcome-1/retry', { token: t.su })).statusCode, 204)
    await until('the retried job to complete', async () => (await t.app.jobs.get('mail', 'welcome-1'))?.state === 'completed')
    const again = await t.call('POST', '/api/jobs/mail/welcome-1/retry', { token: t.su })
    assert.equal(again.statusCode, 400, 'only a failed job is retried')
    assert.equal((await t.call('DELETE', '/api/jobs/mail/welcome-1', { token: t.su })).statusCode, 204)
    assert.equal((await t.call('GET', '/api/jobs/mail/welcome-1', { token: t.su })).statusCode, 404)
  })
})
