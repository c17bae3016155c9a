/**
 * Fields marked `sensitive` in a collection: the mark is validated, kept through the collections
 * API and import, and with `keys.requireEncryption` a marked field (and the SMS sign-in code) sent
 * in the clear is refused with 400 naming it, while a compact JWE is decrypted and stored plain.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { CompactEncrypt, importJWK, type JWK } from 'jose'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'
import { multipart } from '../helpers/app.ts'

async function encryptTo(jwk: JWK, value: string): Promise<string> {
  const key = await importJWK(jwk, 'RSA-OAEP-256')
  return new CompactEncrypt(new TextEncoder().encode(value)).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: jwk.kid! }).encrypt(key)
}

type Data = Record<string, { code: string; message: string } | undefined>

function startWith(requireEncryption: boolean) {
  const state: { app?: Plinth; dir?: string; token?: string; jwk?: JWK } = {}
  const call = (method: string, url: string, body?: unknown, token = state.token): Promise<LightMyRequestResponse> =>
    state.app!.http.inject({ method: method as 'GET', url, headers: token ? { authorization: token } : {}, ...(body === undefined ? {} : { payload: body as object }) })
  before(async () => {
    state.dir = mkdtempSync(path.join(tmpdir(), 'plinth-marks-'))
    const dir = state.dir
    state.app = await createPlinth({
      config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent', keys: { masterKey: Buffer.alloc(32, 5).toString('base64'), requireEncryption } } },
      logger: createLogger({ logLevel: 'silent' }),
    })
    await createSuperuser(state.app.records, 'root@example.com', 'root-password-1')
    state.jwk = (await call('GET', '/api/plinth/keys')).json<{ keys: JWK[] }>().keys[0]!
    const login = await call('POST', '/api/collections/_superusers/auth-with-password', { identity: 'root@example.com', password: await encryptTo(state.jwk, 'root-password-1') })
    assert.equal(login.statusCode, 200, login.body)
    state.token = login.json<{ token: string }>().token
    const created = await call('POST', '/api/collections', {
      name: 'patients', type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: '', // guests write (the batch tests too)
      fields: [{ name: 'title', type: 'text' }, { name: 'ssn', type: 'text', sensitive: true }, { name: 'score', type: 'number', sensitive: true }, { name: 'notes', type: 'json', sensitive: true }],
    })
    assert.equal(created.statusCode, 200, created.body)
  })
  after(async () => {
    await state.app?.stop()
    if (state.dir) rmSync(state.dir, { recursive: true, force: true })
  })
  return { state, call }
}

describe('sensitive marks on fields', () => {
  const { state, call } = startWith(false)

  test('the mark is shown only where set, and kept through update and import', async () => {
    const fields = (await call('GET', '/api/collections/patients')).json<{ fields: Record<string, unknown>[] }>().fields
    const byName = (fs: Record<string, unknown>[], n: string) => fs.find((f) => f.name === n)!
    assert.equal(byName(fields, 'ssn').sensitive, true)
    assert.equal('sensitive' in byName(fields, 'title'), false, 'unmarked fields keep PocketBase\'s shape')
    const exported = (await call('GET', '/api/collections/patients')).json<Record<string, unknown>>()
    const imported = await call('PUT', '/api/collections/import', { collections: [exported], deleteMissing: false })
    assert.equal(imported.statusCode, 204, imported.body)
    const kept = (await call('GET', '/api/collections/patients')).json<{ fields: Record<string, unknown>[] }>().fields
    assert.deepEqual(['ssn', 'score', 'notes'].map((n) => byName(kept, n).sensitive), [true, true, true])
    assert.ok(state.app)
  })

  test('the mark is refused on other field types and on the primary key', async () => {
    const bad = await call('POST', '/api/collections', { name: 'bad1', type: 'base', fields: [{ name: 'flag', type: 'bool', sensitive: true }] })
    assert.equal(bad.statusCode, 400)
    assert.ok(JSON.stringify(bad.json()).includes('sensitive'), bad.body)
    const pk = await call('GET', '/api/collections/patients')
    const def = pk.json<{ fields: Record<string, unknown>[] }>()
    def.fields[0] = { ...def.fields[0], sensitive: true }
    const refused = await call('PATCH', '/api/collections/patients', { fields: def.fields })
    assert.equal(refused.statusCode, 400, refused.body)
  })

  test('without requireEncryption plain values pass and JWE values are decrypted', async () => {
    const plain = await call('POST', '/api/collections/patients/records', { title: 't', ssn: '123-45-6789', score: 7 }, '')
    assert.equal(plain.statusCode, 200, plain.body)
    const enc = await call('POST', '/api/collections/patients/records', { ssn: await encryptTo(state.jwk!, '987-65-4321') }, '')
    assert.equal(enc.statusCode, 200, enc.body)
    assert.equal(enc.json<{ ssn: string }>().ssn, '987-65-4321')
  })
})

describe('sensitive marks with requireEncryption', () => {
  const { state, call } = startWith(true)

  test('a marked field sent in the clear is refused, naming the field; unmarked fields are not affected', async () => {
    for (const body of [{ title: 'x', ssn: '123-45-6789' }, { title: 'x', score: 7 }, { title: 'x', notes: { a: 1 } }]) {
      const res = await call('POST', '/api/collections/patients/records', body, '')
      assert.equal(res.statusCode, 400, res.body)
      const data = res.json<{ data: Data }>().data
      const name = Object.keys(body).find((k) => k !== 'title')!
      assert.deepEqual(Object.keys(data), [name])
      assert.match(data[name]!.message, /encrypted/)
    }
    const ok = await call('POST', '/api/collections/patients/records', { title: 'plain title' }, '')
    assert.equal(ok.statusCode, 200, ok.body)
    const patch = await call('PATCH', `/api/collections/patients/records/${ok.json<{ id: string }>().id}`, { ssn: '1' }, '')
    assert.equal(patch.statusCode, 400)
    assert.ok(patch.json<{ data: Data }>().data.ssn)
  })

  test('JWE values are accepted and stored decrypted', async () => {
    const res = await call('POST', '/api/collections/patients/records', {
      title: 'x', ssn: await encryptTo(state.jwk!, '123-45-6789'), score: await encryptTo(state.jwk!, '42'), notes: await encryptTo(state.jwk!, '{"a":1}'),
    }, '')
    assert.equal(res.statusCode, 200, res.body)
    const rec = res.json<{ id: string; ssn: string; score: number }>()
    assert.deepEqual([rec.ssn, rec.score], ['123-45-6789', 42])
    const read = (await call('GET', `/api/collections/patients/records/${rec.id}`, undefined, '')).json<{ ssn: string }>()
    assert.equal(read.ssn, '123-45-6789')
  })

  test('multipart bodies: a marked field in the clear is refused, a JWE one decrypted (also inside @jsonPayload)', async () => {
    const send = (parts: [string, string][]) => {
      const { body, headers } = multipart(parts)
      return state.app!.http.inject({ method: 'POST', url: '/api/collections/patients/records', headers, payload: body })
    }
    const plain = await send([['title', 'x'], ['ssn', '123-45-6789']])
    assert.equal(plain.statusCode, 400, plain.body)
    assert.deepEqual(Object.keys(plain.json<{ data: Data }>().data), ['ssn'])
    const inPayload = await send([['@jsonPayload', JSON.stringify({ title: 'x', ssn: '123-45-6789' })]])
    assert.equal(inPayload.statusCode, 400, inPayload.body)
    const twice = await send([['ssn', await encryptTo(state.jwk!, '1')], ['ssn', '2']])
    assert.equal(twice.statusCode, 400, twice.body)
    const enc = await send([['title', 'x'], ['ssn', await encryptTo(state.jwk!, '123-45-6789')]])
    assert.equal(enc.statusCode, 200, enc.body)
    assert.equal(enc.json<{ ssn: string }>().ssn, '123-45-6789')
  })

  test('batch requests: each record request is checked as if sent alone, and its JWE values decrypted', async () => {
    const plain = await call('POST', '/api/batch', { requests: [
      { method: 'POST', url: '/api/collections/patients/records', body: { title: 'ok' } },
      { method: 'POST', url: '/api/collections/patients/records', body: { title: 'x', ssn: '123-45-6789' } },
    ] })
    assert.equal(plain.statusCode, 400, plain.body)
    const failed = plain.json<{ data: { requests: Record<string, { response: { data: Data } }> } }>().data.requests
    assert.deepEqual(Object.keys(failed), ['1'])
    assert.deepEqual(Object.keys(failed['1']!.response.data), ['ssn'])
    const users = await call('POST', '/api/batch', { requests: [
      { method: 'POST', url: '/api/collections/users/records', body: { email: 'b@example.com', password: 'batch-password-1', passwordConfirm: 'batch-password-1' } },
    ] })
    assert.equal(users.statusCode, 400, 'a password in a batch must be encrypted too')
    const ok = await call('POST', '/api/batch', { requests: [
      { method: 'POST', url: '/api/collections/patients/records', body: { title: 'x', ssn: await encryptTo(state.jwk!, '555-55-5555') } },
    ] })
    assert.equal(ok.statusCode, 200, ok.body)
    assert.equal(ok.json<{ body: { ssn: string } }[]>()[0]!.body.ssn, '555-55-5555')
  })

  test('the SMS sign-in code and the OTP password must be encrypted', async () => {
    const sms = await call('POST', '/api/collections/users/auth-with-sms-code', { smsId: 'abcdefghijklmno', code: '123456' }, '')
    assert.equal(sms.statusCode, 400)
    assert.deepEqual(Object.keys(sms.json<{ data: Data }>().data), ['code'])
    const otp = await call('POST', '/api/collections/users/auth-with-otp', { otpId: 'abcdefghijklmno', password: '12345678' }, '')
    assert.equal(otp.statusCode, 400)
    assert.deepEqual(Object.keys(otp.json<{ data: Data }>().data), ['password'])
  })
})
