/**
 * Phone sign-in through the HTTP API on SQLite, with a local Twilio stand-in as the provider (so
 * the test reads each code from what was "sent"): sign-up on first sign-in, sign-in, brute force,
 * replay, enumeration, pumping against the budget, binding a number with a fresh login.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createLogger } from '../../src/log.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { systemRequest } from '../../src/records/record.ts'

interface Sent {
  to: string
  code: string
}

/** A Twilio stand-in: every message it accepts, and waiters for the next one to a number. */
async function provider(): Promise<{ url: string; sent: Sent[]; next(to: string): Promise<Sent>; server: Server; failures: { left: number } }> {
  const sent: Sent[] = []
  /** How many of the next requests fail with a Twilio error (the provider is down). */
  const failures = { left: 0 }
  const waiters: { to: string; resolve: (s: Sent) => void }[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      if (failures.left > 0) {
        failures.left--
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"code":20500,"message":"Internal Server Error","status":503}')
        return
      }
      const form = new URLSearchParams(body)
      const s = { to: form.get('To')!, code: /code is (\d+)/.exec(form.get('Body')!)![1]! }
      sent.push(s)
      for (const w of waiters.filter((x) => x.to === s.to)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(s)
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid: `SM${sent.length}`, status: 'queued' }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, sent, server, failures, next: (to) => new Promise((resolve) => waiters.push({ to, resolve })) }
}

async function start(over: Record<string, unknown> = {}) {
  const p = await provider()
  const lines: Record<string, unknown>[] = []
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-sms-'))
  const app: Plinth = await createPlinth({
    config: {
      cwd: dir,
      env: {},
      overrides: { dir, logLevel: 'silent', sms: `twilio://AC1:tok@?from=%2B15005550006&endpoint=${encodeURIComponent(p.url)}`, ...over },
    },
    logger: createLogger({ logLevel: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }),
  })
  app.jobs.startWorker()
  await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  const call = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await app.http.inject({ method: 'POST', url: `/api/collections/users/${url}`, payload: body as object, headers: { 'x-device-id': `d-${Math.random()}`, ...headers } })
    return { status: res.statusCode, body: res.json<Record<string, unknown>>(), headers: res.headers }
  }
  /** Resolves once no plinth.sms job waits or runs (polled: the worker runs them in the background). */
  const drained = async () => {
    for (;;) {
      const n = (await app.jobs.counts())['plinth.sms']
      if (!n || n.waiting + n.active + n.delayed === 0) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  return {
    app,
    p,
    call,
    lines,
    drained,
    async close() {
      await app.stop()
      await new Promise<void>((resolve) => p.server.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

describe('phone sign-in', () => {
  let t: Awaited<ReturnType<typeof start>>
  before(async () => {
    t = await start()
  })
  after(() => t.close())

  test('a new number signs up on its first sign-in, and signs in to the same account later', async () => {
    const methods = await t.app.http.inject({ method: 'GET', url: '/api/collections/users/auth-methods' })
    assert.deepEqual(methods.json().phone, { enabled: true, allowSignUp: true, duration: 300, length: 6 })
    const next = t.p.next('+8613800138000')
    const r = await t.call('request-sms-code', { phone: '+86 138 0013 8000' })
    assert.equal(r.status, 200)
    assert.match(String(r.body.smsId), /^[a-z0-9]{15}$/)
    const { code } = await next
    assert.match(code, /^\d{6}$/)
    const auth = await t.call('auth-with-sms-code', { smsId: r.body.smsId, code })
    assert.equal(auth.status, 200, JSON.stringify(auth.body))
    const record = auth.body.record as Record<string, unknown>
    assert.equal(record.phone, '+8613800138000')
    assert.equal(typeof auth.body.token, 'string')
    // Later (past the per-minute limit): the same account.
    await t.app.counters.delete('sms:phone:60000:+8613800138000')
    const again = t.p.next('+8613800138000')
    const r2 = await t.call('request-sms-code', { phone: '008613800138000' })
    const auth2 = await t.call('auth-with-sms-code', { smsId: r2.body.smsId, code: (await again).code })
    assert.equal((auth2.body.record as Record<string, unknown>).id, record.id)
  })

  test('a provider failure is retried with a new code; nothing signs in meanwhile', async () => {
    t.p.failures.left = 1
    const next = t.p.next('+8613200132000')
    const { body } = await t.call('request-sms-code', { phone: '+8613200132000' })
    const { code } = await next
    assert.equal(t.p.failures.left, 0, 'the first attempt failed')
    const jobs = await t.app.jobs.counts()
    assert.equal(jobs['plinth.sms']!.failed, 0)
    const auth = await t.call('auth-with-sms-code', { smsId: body.smsId, code })
    assert.equal(auth.status, 200, JSON.stringify(auth.body))
  })

  test('a number cannot be set through the records API, only by its code', async () => {
    const create = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email: 'claim@example.com', password: 'a-long-password', passwordConfirm: 'a-long-password', phone: '+8613100131000' } })
    assert.equal(create.statusCode, 400)
    assert.equal(create.json().data.phone.code, 'validation_values_mismatch')
    const plain = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/records', payload: { email: 'claim@example.com', password: 'a-long-password', passwordConfirm: 'a-long-password' } })
    assert.equal(plain.statusCode, 200, plain.body)
    const login = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'claim@example.com', password: 'a-long-password' } })
    const { token, record } = login.json<{ token: string; record: { id: string } }>()
    const patch = await t.app.http.inject({ method: 'PATCH', url: `/api/collections/users/records/${record.id}`, headers: { authorization: token }, payload: { phone: '+8613100131000' } })
    assert.equal(patch.statusCode, 400)
    assert.equal(patch.json().data.phone.code, 'validation_values_mismatch')
  })

  test('an invalid number is a 400 with a field error', async () => {
    const r = await t.call('request-sms-code', { phone: '+86 12' })
    assert.equal(r.status, 400)
    assert.equal((r.body.data as Record<string, { code: string }>).phone!.code, 'validation_invalid_phone')
    assert.equal((await t.call('request-sms-code', {})).status, 400)
  })

  test('brute force: the 6th guess is refused even when right, and the code is dead', async () => {
    await t.app.counters.delete('sms:phone:60000:+8613900139000')
    const next = t.p.next('+8613900139000')
    const { body } = await t.call('request-sms-code', { phone: '+8613900139000' })
    const { code } = await next
    const wrongCode = code === '000000' ? '000001' : '000000'
    for (let i = 0; i < 5; i++) assert.equal((await t.call('auth-with-sms-code', { smsId: body.smsId, code: wrongCode })).status, 400)
    const sixth = await t.call('auth-with-sms-code', { smsId: body.smsId, code })
    assert.equal(sixth.status, 400)
    assert.equal(sixth.body.message, 'Invalid or expired SMS code.')
    assert.equal((await t.call('auth-with-sms-code', { smsId: body.smsId, code })).status, 400, 'dead for good')
  })

  test('replay: a code signs in once', async () => {
    await t.app.counters.delete('sms:phone:60000:+8613700137000')
    const next = t.p.next('+8613700137000')
    const { body } = await t.call('request-sms-code', { phone: '+8613700137000' })
    const { code } = await next
    const [a, b] = await Promise.all([t.call('auth-with-sms-code', { smsId: body.smsId, code }), t.call('auth-with-sms-code', { smsId: body.smsId, code })])
    assert.deepEqual([a.status, b.status].sort(), [200, 400], JSON.stringify([a.body, b.body]))
    assert.equal((await t.call('auth-with-sms-code', { smsId: body.smsId, code })).status, 400)
  })

  test('binding a number needs the account\'s own fresh token', async () => {
    const next = t.p.next('+8613600136000')
    const first = await t.call('request-sms-code', { phone: '+8613600136000' })
    const signed = await t.call('auth-with-sms-code', { smsId: first.body.smsId, code: (await next).code })
    const token = String(signed.body.token)
    const id = (signed.body.record as { id: string }).id
    const bindNext = t.p.next('+8613600136001')
    const bind = await t.call('request-sms-code', { phone: '+8613600136001' }, { authorization: token })
    const code = (await bindNext).code
    assert.equal((await t.call('auth-with-sms-code', { smsId: bind.body.smsId, code })).status, 400, 'without the token: refused')
    // That try counted as a guess but did not use the code up.
    const done = await t.call('auth-with-sms-code', { smsId: bind.body.smsId, code }, { authorization: token })
    assert.equal(done.status, 200, JSON.stringify(done.body))
    assert.deepEqual([(done.body.record as { id: string }).id, (done.body.record as { phone: string }).phone], [id, '+8613600136001'])
  })
})

describe('phone sign-in and MFA', () => {
  test('the phone method is one of the two factors', async () => {
    const t = await start()
    try {
      const su = await t.app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'root@example.com', password: 'root-password-1' } })
      const suToken = su.json<{ token: string }>().token
      const patch = await t.app.http.inject({ method: 'PATCH', url: '/api/collections/users', headers: { authorization: suToken }, payload: { mfa: { enabled: true, duration: 600 } } })
      assert.equal(patch.statusCode, 200, patch.body)
      await t.app.records.create('users', { email: 'mfa@example.com', password: 'a-long-password', passwordConfirm: 'a-long-password', phone: '+8613300133000' }, systemRequest())
      const first = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/auth-with-password', payload: { identity: 'mfa@example.com', password: 'a-long-password' } })
      assert.equal(first.statusCode, 401)
      const mfaId = first.json<{ mfaId: string }>().mfaId
      const next = t.p.next('+8613300133000')
      const asked = await t.call('request-sms-code', { phone: '+8613300133000' })
      const second = await t.call('auth-with-sms-code', { smsId: asked.body.smsId, code: (await next).code, mfaId })
      assert.equal(second.status, 200, JSON.stringify(second.body))
      assert.equal((second.body.record as { email: string }).email, 'mfa@example.com')
    } finally {
      await t.close()
    }
  })
})

describe('phone sign-in abuse', () => {
  test('enumeration: registered, unknown and limited numbers get the same answer', async () => {
    const t = await start()
    try {
      const next = t.p.next('+8613500135000')
      const first = await t.call('request-sms-code', { phone: '+8613500135000' })
      assert.equal((await t.call('auth-with-sms-code', { smsId: first.body.smsId, code: (await next).code })).status, 200)
      // Registered (and now limited for a minute), never seen, and seen but not registered and limited.
      await t.call('request-sms-code', { phone: '+8613500135002' })
      const answers = []
      for (const phone of ['+8613500135000', '+8613500135001', '+8613500135002']) {
        const r = await t.app.http.inject({ method: 'POST', url: '/api/collections/users/request-sms-code', payload: { phone }, headers: { 'x-device-id': 'same-device' } })
        const headers = Object.keys(r.headers).filter((h) => h !== 'x-request-id').sort()
        answers.push({ status: r.statusCode, keys: Object.keys(r.json()), length: r.headers['content-length'], headers })
      }
      assert.deepEqual(answers[1], answers[0])
      assert.deepEqual(answers[2], answers[0])
      assert.equal(answers[0]!.status, 200)
      await t.drained()
      assert.deepEqual(t.p.sent.map((s) => s.to).sort(), ['+8613500135000', '+8613500135001', '+8613500135002'], 'the limited numbers got nothing more')
    } finally {
      await t.close()
    }
  })

  test('pumping: 500 requests to sequential numbers from many addresses spend no more than the budget', async () => {
    const t = await start({ trustProxy: '127.0.0.1', phone: { dailyBudget: 30, perIpHour: 20, perDeviceHour: 20 } })
    try {
      let accepted = 0
      let limited = 0
      for (let i = 0; i < 500; i++) {
        // 25 requests per address: its last 5 are over the per-address limit.
        const ip = `198.51.100.${Math.floor(i / 25)}`
        const r = await t.call('request-sms-code', { phone: `+86138${String(10_000_000 + i)}` }, { 'x-forwarded-for': ip })
        if (r.status === 200) accepted++
        else if (r.status === 429) limited++
      }
      assert.equal(accepted, 400)
      assert.equal(limited, 100)
      await t.drained()
      assert.equal(t.p.sent.length, 30, 'the daily budget')
      const alerts = t.lines.filter((l) => l.alert === 'sms-budget')
      assert.equal(alerts.length, 1, 'one alert')
      assert.equal(alerts[0]!.level, 50)
    } finally {
      await t.close()
    }
  })

  test('per address without trusted proxies: X-Forwarded-For is ignored, the 21st request is refused', async () => {
    const t = await start()
    try {
      const statuses = []
      for (let i = 0; i < 21; i++) statuses.push((await t.call('request-sms-code', { phone: `+86139${String(10_000_000 + i)}` }, { 'x-forwarded-for': `203.0.113.${i}` })).status)
      assert.deepEqual(statuses, [...Array<number>(20).fill(200), 429])
    } finally {
      await t.close()
    }
  })
})
