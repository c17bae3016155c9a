/**
 * The FCM and RongCloud engines against local HTTP servers speaking their protocols. FCM's token
 * endpoint verifies the JWT-bearer assertion with the service account's public key (RS256, iss,
 * aud = token_uri, scope) and the send endpoint checks the bearer token and the v1 message;
 * RongCloud's server recomputes the Signature header and checks the form and JSON fields. Both
 * answer their real error bodies.
 */
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, beforeEach, describe, test } from 'node:test'
import { importSPKI, jwtVerify } from 'jose'
import { parsePushUrl, type FcmPushTarget, type RongcloudPushTarget } from '../../src/config/push-url.ts'
import { FCM_SCOPE, fcmPush } from '../../src/push/fcm.ts'
import type { DevicePushEngine, PushDevice } from '../../src/push/push.ts'
import { rongcloudPush, RongcloudError, type RongcloudEngine } from '../../src/push/rongcloud.ts'
import { startVendor, type Vendor } from '../helpers/vendor.ts'

let dir: string
const closers: (() => Promise<void>)[] = []
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'plinth-fcm-'))
})
after(async () => {
  for (const c of closers) await c()
  rmSync(dir, { recursive: true, force: true })
})

const android = (n: number): PushDevice => ({ id: `p_${n}`, platform: 'android', token: `fcm-token-${n}:APA91b`, topic: '', locale: 'zh-CN' })
const googleError = (code: number, status: string, errorCode?: string) => ({
  status: code,
  body: { error: { code, message: `${status} (stand-in)`, status, ...(errorCode ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] } : {}) } },
})

describe('FCM HTTP v1', () => {
  let google: Vendor
  let engine: DevicePushEngine
  let grants = 0
  const issued = new Set<string>()
  const sends: { auth: string; body: Record<string, unknown> }[] = []
  const replies = new Map<string, (n: number) => { status: number; body: unknown }>()
  const perToken = new Map<string, number>()
  let clock = Date.now()

  before(async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pub = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256')
    google = await startVendor({
      'POST /token': async (req) => {
        if (req.form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return { status: 400, body: { error: 'unsupported_grant_type' } }
        try {
          const { payload, protectedHeader } = await jwtVerify(req.form.assertion ?? '', pub, { issuer: 'push@demo-project.iam.gserviceaccount.com', audience: `${google.url}/token`, algorithms: ['RS256'] })
          if (payload.scope !== FCM_SCOPE || protectedHeader.kid !== 'key-1' || (payload.exp ?? 0) - (payload.iat ?? 0) > 3600) throw new Error('claims')
        } catch {
          return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } }
        }
        grants++
        const token = `ya29.stand-in-${grants}`
        issued.add(token)
        return { body: { access_token: token, expires_in: 3599, token_type: 'Bearer' } }
      },
    })
    // The send endpoint reads a JSON body, which the vendor helper does not parse: a route of our own.
    const { createServer } = await import('node:http')
    const sendServer = createServer((req, res) => {
      let text = ''
      req.on('data', (c: Buffer) => (text += c.toString('utf8')))
      req.on('end', () => {
        const auth = String(req.headers.authorization ?? '')
        const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
        if (req.url !== '/v1/projects/demo-project/messages:send' || req.method !== 'POST') return reply(404, googleError(404, 'NOT_FOUND').body)
        if (!auth.startsWith('Bearer ') || !issued.has(auth.slice(7))) return reply(401, googleError(401, 'UNAUTHENTICATED').body)
        const body = JSON.parse(text) as { message: { token: string } }
        sends.push({ auth, body: body as unknown as Record<string, unknown> })
        const n = (perToken.get(body.message.token) ?? 0) + 1
        perToken.set(body.message.token, n)
        const r = replies.get(body.message.token)?.(n) ?? { status: 200, body: { name: `projects/demo-project/messages/${n}` } }
        reply(r.status, r.body)
      })
    })
    await new Promise<void>((resolve) => sendServer.listen(0, '127.0.0.1', resolve))
    const sendUrl = `http://127.0.0.1:${(sendServer.address() as import('node:net').AddressInfo).port}`
    closers.push(() => new Promise<void>((resolve) => sendServer.close(() => resolve())))
    const account = path.join(dir, 'service-account.json')
    writeFileSync(account, JSON.stringify({
      type: 'service_account', project_id: 'demo-project', private_key_id: 'key-1',
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'push@demo-project.iam.gserviceaccount.com', token_uri: `${google.url}/token`,
    }))
    const t = parsePushUrl(`fcm://?credentials=${encodeURIComponent(account)}&endpoint=${encodeURIComponent(sendUrl)}`).engines[0] as FcmPushTarget
    engine = await fcmPush(t, { now: () => clock })
  })
  after(() => google.close())
  beforeEach(() => {
    sends.length = 0
    replies.clear()
  })

  test('the v1 message, and one access token for many sends until it nears expiry', async () => {
    const r = await engine.send(android(1), { notification: { title: 'Hi', body: 'There' }, data: { convo: 'c1', n: 2 }, badge: 4, sound: 'default', collapseId: 'chat', ttl: 60 })
    assert.deepEqual(r, { outcome: 'sent' })
    assert.deepEqual(sends[0]?.body, {
      message: {
        token: 'fcm-token-1:APA91b',
        notification: { title: 'Hi', body: 'There' },
        data: { convo: 'c1', n: '2' },
        android: { priority: 'high', ttl: '60s', collapse_key: 'chat', notification: { sound: 'default', notification_count: 4 } },
      },
    })
    await Promise.all([2, 3, 4].map((n) => engine.send(android(n), { notification: { body: 'x' } })))
    assert.equal(grants, 1)
    clock += 3600_000
    await engine.send(android(5), { notification: { body: 'x' } })
    assert.equal(grants, 2, 'a new grant once the token is near its expiry')
  })

  test('UNREGISTERED and 404 deactivate; INVALID_ARGUMENT fails; 429 and 503 are retried', async () => {
    replies.set(android(6).token, () => googleError(404, 'NOT_FOUND', 'UNREGISTERED'))
    replies.set(android(7).token, () => googleError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'))
    replies.set(android(8).token, (n) => (n === 1 ? googleError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED') : n === 2 ? googleError(503, 'UNAVAILABLE', 'UNAVAILABLE') : { status: 200, body: { name: 'ok' } }))
    replies.set(android(9).token, () => googleError(500, 'INTERNAL', 'INTERNAL'))
    assert.deepEqual(await engine.send(android(6), {}), { outcome: 'invalid', reason: 'UNREGISTERED' })
    assert.deepEqual(await engine.send(android(7), {}), { outcome: 'failed', reason: 'INVALID_ARGUMENT' })
    assert.deepEqual(await engine.send(android(8), {}), { outcome: 'sent' })
    assert.deepEqual(await engine.send(android(9), {}), { outcome: 'retry', reason: 'INTERNAL' })
    assert.equal(sends.filter((s) => (s.body.message as { token: string }).token === android(9).token).length, 4)
  })

  test('a revoked access token (401) is renewed once', async () => {
    issued.clear()
    assert.deepEqual(await engine.send(android(10), { notification: { body: 'x' } }), { outcome: 'sent' })
    assert.equal(grants, 3)
  })
})

describe('RongCloud server API', () => {
  const APP_KEY = 'c9kqb3rdkbb8j'
  const SECRET = 'uTNrkYskbNC'
  let url: string
  let engine: RongcloudEngine
  interface Seen { path: string; headers: Record<string, string>; type: string; form: URLSearchParams; json: unknown }
  const seen: Seen[] = []
  let answer: (req: Seen) => { status?: number; body: unknown } = () => ({ body: { code: 200 } })

  const signed = (h: Record<string, string>): boolean =>
    h['app-key'] === APP_KEY && !!h.nonce && /^\d{13}$/.test(h.timestamp ?? '') && h.signature === createHash('sha1').update(SECRET + h.nonce + h.timestamp).digest('hex')
  before(async () => {
    const { createServer } = await import('node:http')
    const server = createServer((req, res) => {
      let text = ''
      req.on('data', (c: Buffer) => (text += c.toString('utf8')))
      req.on('end', () => {
        const type = String(req.headers['content-type'] ?? '')
        const s: Seen = { path: req.url ?? '', headers: req.headers as Record<string, string>, type, form: new URLSearchParams(type.startsWith('application/x-www-form-urlencoded') ? text : ''), json: type.startsWith('application/json') ? JSON.parse(text) : undefined }
        seen.push(s)
        const out = !signed(s.headers) ? { status: 401, body: { code: 1004, errorMessage: 'Signature error' } } : answer(s)
        res.writeHead(out.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(out.body))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`
    engine = rongcloudPush(parsePushUrl(`rongcloud://${APP_KEY}:${SECRET}@?endpoint=${encodeURIComponent(url)}`).engines[0] as RongcloudPushTarget)
  })
  beforeEach(() => {
    seen.length = 0
    answer = () => ({ body: { code: 200 } })
  })

  test('user token: signed headers, form fields, the token from the answer', async () => {
    answer = (req) => ({ body: { code: 200, userId: req.form.get('userId'), token: `rc-token-for-${req.form.get('userId')}` } })
    assert.equal(await engine.userToken('u1abc', 'Ann'), 'rc-token-for-u1abc')
    const [s] = seen
    assert.equal(s?.path, '/user/getToken.json')
    assert.equal(s?.type, 'application/x-www-form-urlencoded')
    assert.deepEqual(Object.fromEntries(s!.form), { userId: 'u1abc', name: 'Ann', portraitUri: '' })
  })

  test('a wrong secret is code 1004, an error naming the code; 1008 (rate) is retried', async () => {
    const wrong = rongcloudPush({ engine: 'rongcloud', appKey: APP_KEY, appSecret: 'nope', endpoint: url })
    await assert.rejects(wrong.userToken('u1', 'A'), (err: unknown) => err instanceof RongcloudError && err.code === 1004)
    let calls = 0
    answer = () => (++calls < 3 ? { body: { code: 1008, errorMessage: 'Too many requests' } } : { body: { code: 200, token: 't' } })
    assert.equal(await engine.userToken('u2', 'B'), 't')
    assert.equal(calls, 3)
  })

  test('system message: the form, toUserId repeated', async () => {
    await engine.systemMessage({ fromUserId: 'system', toUserIds: ['u1', 'u2'], objectName: 'RC:TxtMsg', content: { content: 'hello' }, pushContent: 'hello' })
    const [s] = seen
    assert.equal(s?.path, '/message/system/publish.json')
    assert.equal(s?.form.get('fromUserId'), 'system')
    assert.deepEqual(s?.form.getAll('toUserId'), ['u1', 'u2'])
    assert.equal(s?.form.get('objectName'), 'RC:TxtMsg')
    assert.equal(s?.form.get('content'), '{"content":"hello"}')
    assert.equal(s?.form.get('pushContent'), 'hello')
  })

  test('push to users: the JSON audience and notification; 1002 fails, 1000 is left to retry', async () => {
    assert.deepEqual(await engine.sendToUsers(['u1', 'u2'], { notification: { title: 'T', body: 'B' }, badge: 2, data: { k: 'v' } }), { outcome: 'sent' })
    assert.equal(seen[0]?.path, '/push.json')
    assert.deepEqual(seen[0]?.json, {
      platform: ['ios', 'android'],
      audience: { userid: ['u1', 'u2'], is_to_all: false },
      notification: { title: 'T', alert: 'B', ios: { extras: { k: 'v' }, title: 'T', badge: 2 }, android: { extras: { k: 'v' } } },
    })
    answer = () => ({ body: { code: 1002, errorMessage: 'audience is required' } })
    assert.deepEqual(await engine.sendToUsers(['u1'], {}), { outcome: 'failed', reason: '1002' })
    answer = () => ({ status: 500, body: { code: 1000, errorMessage: 'Internal error' } })
    assert.deepEqual(await engine.sendToUsers(['u1'], {}), { outcome: 'retry', reason: '1000' })
    assert.equal(seen.length, 1 + 1 + 4)
  })
})
