/**
 * The APNs engine against a local HTTP/2 TLS server that checks the provider JWT with the key's
 * public half, every header and the payload size, and answers Apple's error bodies.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, beforeEach, test } from 'node:test'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { parsePushUrl, type ApnsPushTarget } from '../../src/config/push-url.ts'
import { StartupError } from '../../src/config/errors.ts'
import { APNS_TOKEN_REUSE_MS, apnsPush } from '../../src/push/apns.ts'
import type { DevicePushEngine, PushDevice } from '../../src/push/push.ts'
import { APNS_KEY_ID, APNS_TEAM, startApns, type ApnsServer } from '../helpers/apns-server.ts'

let dir: string
let apns: ApnsServer
let engine: DevicePushEngine
let clock = Date.now()
const token = (n: number) => n.toString(16).padStart(64, 'a')
const device = (n: number, topic = ''): PushDevice => ({ id: `p_${n}`, platform: 'ios', token: token(n), topic, locale: 'en' })

function target(): ApnsPushTarget {
  const t = parsePushUrl(`apns://${APNS_KEY_ID}:${APNS_TEAM}@?key=${encodeURIComponent(apns.keyFile)}&topic=com.example.app&endpoint=${encodeURIComponent(apns.url)}&ca=${encodeURIComponent(apns.cert.certFile)}`).engines[0]
  assert.equal(t?.engine, 'apns')
  return t as ApnsPushTarget
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'plinth-apns-'))
  apns = await startApns(dir)
  engine = await apnsPush(target(), { now: () => clock })
})
after(async () => {
  await engine.close()
  await apns.close()
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(() => {
  apns.seen.length = 0
  apns.reply.clear()
})

test('an alert: every header, the payload, and a JWT the server verifies with the public key', async () => {
  const r = await engine.send(device(1), { notification: { title: 'Hi', body: 'There' }, badge: 3, sound: 'default', collapseId: 'chat-9', ttl: 3600, data: { convo: 'c1', aps: 'dropped' } })
  assert.deepEqual(r, { outcome: 'sent' })
  const [s] = apns.seen
  assert.ok(s)
  assert.equal(s.status, 200)
  assert.equal(s.token, token(1))
  assert.equal(s.headers['apns-topic'], 'com.example.app')
  assert.equal(s.headers['apns-push-type'], 'alert')
  assert.equal(s.headers['apns-priority'], '10')
  assert.equal(s.headers['apns-collapse-id'], 'chat-9')
  assert.equal(s.headers['apns-expiration'], String(Math.floor(clock / 1000) + 3600))
  assert.deepEqual(JSON.parse(s.body), { convo: 'c1', aps: { alert: { title: 'Hi', body: 'There' }, badge: 3, sound: 'default' } })
  const jwt = String(s.headers.authorization).slice(7)
  assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'ES256', kid: APNS_KEY_ID })
  assert.equal(decodeJwt(jwt).iss, APNS_TEAM)
})

test('a device topic wins; no notification is a background push at priority 5', async () => {
  await engine.send(device(2, 'com.example.other'), { data: { sync: true } })
  const [s] = apns.seen
  assert.equal(s?.headers['apns-topic'], 'com.example.other')
  assert.equal(s?.headers['apns-push-type'], 'background')
  assert.equal(s?.headers['apns-priority'], '5')
  assert.equal(s?.headers['apns-expiration'], undefined)
  assert.deepEqual(JSON.parse(s!.body), { sync: true, aps: { 'content-available': 1 } })
})

test('one HTTP/2 session and one JWT for many sends; a new JWT after 50 minutes, not before', async () => {
  const sessions = apns.sessions
  apns.jwts.clear()
  await Promise.all(Array.from({ length: 20 }, (_, i) => engine.send(device(100 + i), { notification: { body: 'x' } })))
  assert.equal(apns.sessions, sessions)
  assert.equal(apns.jwts.size, 1)
  clock += 20 * 60_000
  await engine.send(device(1), { notification: { body: 'x' } })
  assert.equal(apns.jwts.size, 1, 'reused at 20 minutes')
  clock += APNS_TOKEN_REUSE_MS
  await engine.send(device(1), { notification: { body: 'x' } })
  assert.equal(apns.jwts.size, 2, 'renewed past 50 minutes')
})

test('a connection Apple closes (GOAWAY) is replaced on the next send', async () => {
  assert.deepEqual(await engine.send(device(20), { notification: { body: 'x' } }), { outcome: 'sent' })
  const before = apns.sessions
  apns.dropSessions()
  assert.deepEqual(await engine.send(device(21), { notification: { body: 'x' } }), { outcome: 'sent' })
  assert.equal(apns.sessions, before + 1)
})

test("Apple's refusals: BadDeviceToken and 410 Unregistered deactivate, DeviceTokenNotForTopic fails", async () => {
  apns.reply.set(token(3), { status: 400, reason: 'BadDeviceToken' })
  apns.reply.set(token(4), { status: 410, reason: 'Unregistered' })
  apns.reply.set(token(5), { status: 400, reason: 'DeviceTokenNotForTopic' })
  assert.deepEqual(await engine.send(device(3), { notification: { body: 'x' } }), { outcome: 'invalid', reason: 'BadDeviceToken' })
  assert.deepEqual(await engine.send(device(4), { notification: { body: 'x' } }), { outcome: 'invalid', reason: 'Unregistered' })
  assert.deepEqual(await engine.send(device(5), { notification: { body: 'x' } }), { outcome: 'failed', reason: 'DeviceTokenNotForTopic' })
  assert.equal(apns.seen.length, 3, 'none retried')
})

test('429 and 5xx are retried with backoff; still failing after the retries, the device is left to the job', async () => {
  apns.reply.set(token(6), (n) => (n <= 2 ? { status: 429, reason: 'TooManyRequests' } : { status: 200 }))
  assert.deepEqual(await engine.send(device(6), { notification: { body: 'x' } }), { outcome: 'sent' })
  assert.deepEqual(apns.seen.map((s) => s.status), [429, 429, 200])
  apns.seen.length = 0
  apns.reply.set(token(7), { status: 503, reason: 'ServiceUnavailable' })
  assert.deepEqual(await engine.send(device(7), { notification: { body: 'x' } }), { outcome: 'retry', reason: 'ServiceUnavailable' })
  assert.equal(apns.seen.length, 4, 'the first try and three retries')
})

test('a payload over 4096 bytes is refused without a request; a non-hex token is invalid without one', async () => {
  assert.deepEqual(await engine.send(device(8), { notification: { body: 'x'.repeat(4100) } }), { outcome: 'failed', reason: 'PayloadTooLarge' })
  assert.deepEqual(await engine.send({ ...device(9), token: 'not/hex' }, { notification: { body: 'x' } }), { outcome: 'invalid', reason: 'BadDeviceToken' })
  // Just under the limit goes through, and the server measured it.
  const body = 'y'.repeat(4096 - JSON.stringify({ aps: { alert: { body: '' } } }).length)
  assert.deepEqual(await engine.send(device(10), { notification: { body } }), { outcome: 'sent' })
  assert.equal(apns.seen.length, 1)
  assert.equal(Buffer.byteLength(apns.seen[0]!.body), 4096)
})

test('a key the server does not know: 403 InvalidProviderToken, renewed once, then failed', async () => {
  const other = await startApns(dir)
  try {
    // `other` has its own developer key; ours does not verify there.
    const wrong = await apnsPush({ ...target(), endpoint: other.url, caFile: other.cert.certFile })
    assert.deepEqual(await wrong.send(device(1), { notification: { body: 'x' } }), { outcome: 'failed', reason: 'InvalidProviderToken' })
    assert.deepEqual(other.seen.map((s) => s.status), [403, 403])
    await wrong.close()
    const right = await apnsPush({ ...target(), keyFile: other.keyFile, endpoint: other.url, caFile: other.cert.certFile })
    assert.deepEqual(await right.send(device(1), { notification: { body: 'x' } }), { outcome: 'sent' })
    await right.close()
  } finally {
    await other.close()
  }
})

test('start-up: an unreadable or wrong key file is one line naming it', async () => {
  await assert.rejects(apnsPush({ ...target(), keyFile: path.join(dir, 'missing.p8') }), (err: unknown) => err instanceof StartupError && /cannot read the key file .*missing\.p8 \(ENOENT\)/.test(err.message))
  writeFileSync(path.join(dir, 'bad.p8'), 'not a key')
  await assert.rejects(apnsPush({ ...target(), keyFile: path.join(dir, 'bad.p8') }), (err: unknown) => err instanceof StartupError && /bad\.p8 is not an ES256 \.p8 key/.test(err.message))
})
