/**
 * Built-in mails go through the job queue (`plinth.mail`): a request only enqueues, a worker
 * sends, a failed SMTP attempt is retried. A real SMTP server (smtp-server) on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { SMTPServer } from 'smtp-server'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDb, type TestDb } from '../helpers/engines.ts'

describe('built-in mails on the job queue (SQLite, real SMTP server)', () => {
  let server: SMTPServer
  let testDb: TestDb
  let dir: string
  let app: Plinth
  /** Messages the server accepted (raw data). */
  const received: string[] = []
  const arrivals: ((data: string) => void)[] = []
  /** What the server does with the next DATA: 'fail' once, 'hold' until released, else accept. */
  let mode: 'accept' | 'fail' | 'hold' = 'accept'
  let attempts = 0
  let release: (() => void) | undefined

  const arrival = () => new Promise<string>((resolve) => arrivals.push(resolve))
  const call = async (url: string, body: unknown) => (await app.http.inject({ method: 'POST', url, payload: body as object })).statusCode

  before(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, cb) {
        let data = ''
        stream.on('data', (c: Buffer) => (data += c.toString()))
        stream.on('end', () => {
          attempts++
          const accept = () => {
            received.push(data)
            arrivals.shift()?.(data)
            cb()
          }
          if (mode === 'fail') {
            mode = 'accept'
            return cb(Object.assign(new Error('try again later'), { responseCode: 451 }))
          }
          if (mode === 'hold') return void (release = accept)
          accept()
        })
      },
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.server.address() as AddressInfo).port
    testDb = await createTestDb('sqlite')
    dir = mkdtempSync(path.join(tmpdir(), 'plinth-mailq-'))
    app = await createPlinth({
      config: { cwd: dir, env: {}, overrides: { db: testDb.url, dir, mail: `smtp://127.0.0.1:${port}`, logLevel: 'silent' } },
      logger: createLogger({ logLevel: 'silent' }),
    })
    app.jobs.startWorker()
    for (const email of ['slow@example.com', 'retry@example.com']) {
      await app.records.create('users', { email, password: 'password-123', passwordConfirm: 'password-123' }, { auth: null, system: true, method: '', headers: {}, query: {}, body: {}, context: 'system' })
    }
  })
  after(async () => {
    await app?.stop()
    await testDb?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  test('request-verification answers before the SMTP server has accepted the mail', async () => {
    mode = 'hold'
    const before = attempts
    const arrived = arrival()
    assert.equal(await call('/api/collections/users/request-verification', { email: 'slow@example.com' }), 204)
    // Answered; the server has not accepted anything yet (it holds until released below).
    assert.equal(received.length, 0)
    while (!release) await new Promise((r) => setTimeout(r, 20))
    assert.equal(attempts, before + 1)
    mode = 'accept'
    release()
    assert.match(await arrived, /Verify your Plinth email/)
  })

  test('a mail whose first SMTP attempt fails is retried and arrives', async () => {
    mode = 'fail'
    const before = attempts
    const arrived = arrival()
    assert.equal(await call('/api/collections/users/request-password-reset', { email: 'retry@example.com' }), 204)
    const data = await arrived
    assert.match(data, /Reset your Plinth password/)
    assert.match(data, /retry@example\.com/)
    assert.equal(attempts, before + 2)
    // The job completes once the send resolves, just after the server's answer.
    let done = false
    for (let i = 0; i < 200 && !done; i++) {
      done = (await app.jobs.list('plinth.mail', 'completed', 10)).some((j) => j.attempts === 2)
      if (!done) await new Promise((r) => setTimeout(r, 25))
    }
    assert.ok(done, 'the job records its two attempts')
  })
})
