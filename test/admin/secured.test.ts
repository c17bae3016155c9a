/**
 * The console on a server that requires signed requests and encrypted values (PLINTH_SIGNATURES=
 * required, PLINTH_REQUIRE_ENCRYPTION=true), in real Chromium: a superuser signs in (the password
 * goes as JWE), every request with the token is signed with the session key, a reload keeps
 * signing, and a record's field marked sensitive is sent encrypted and stored as typed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { FieldEncryptor, RequestSigner, signedFetch, type ClientKey } from '../../sdk/plinth-signing.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { skipReason, startConsole, type ConsoleRig } from './harness.ts'

const EMAIL = 'root@example.com'
const PASSWORD = 'root-password-1'
const skip = skipReason()

describe('admin console with signatures and encryption required', { skip }, () => {
  let rig: ConsoleRig
  /** Signed API calls from the test, as the superuser. */
  let api: (method: string, url: string, body?: unknown) => Promise<{ status: number; json: Record<string, unknown> }>
  const refused: string[] = []

  before(async () => {
    rig = await startConsole({
      overrides: { signatures: { mode: 'required', maxSkewSeconds: 300 }, keys: { masterKey: Buffer.alloc(32, 5).toString('base64'), requireEncryption: true } },
    })
    await createSuperuser(rig.app.records, EMAIL, PASSWORD)
    const enc = new FieldEncryptor(rig.url)
    const login = await fetch(`${rig.url}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: EMAIL, password: await enc.encrypt(PASSWORD) }),
    })
    assert.equal(login.status, 200, await login.clone().text())
    const { token, signingKey } = (await login.json()) as { token: string; signingKey: ClientKey }
    const signed = signedFetch(new RequestSigner(signingKey))
    api = async (method, url, body) => {
      const res = await signed(rig.url + url, { method, headers: { authorization: token, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
      return { status: res.status, json: (await res.json()) as Record<string, unknown> }
    }
    const made = await api('POST', '/api/collections', {
      name: 'vault',
      type: 'base',
      fields: [{ name: 'title', type: 'text' }, { name: 'secret', type: 'text', sensitive: true }],
    })
    assert.equal(made.status, 200, JSON.stringify(made.json))
    rig.page.on('response', (r) => {
      if (r.url().includes('/api/') && (r.status() === 400 || r.status() === 401)) refused.push(`${r.status()} ${r.request().method()} ${r.url()}`)
    })
  })
  after(async () => rig?.close())

  it('signs in, lists, survives a reload, and saves a sensitive field encrypted', () =>
    rig.step('secured console', async () => {
      const { page } = rig
      await page.goto(`${rig.url}/_/`)
      await page.fill('input[name=email]', EMAIL)
      await page.fill('input[name=password]', PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('.nav a[data-section=collections]')
      await page.goto(`${rig.url}/_/#/collections/vault`)
      await page.waitForSelector('.records h1:has-text("vault")')
      // A reload starts the console afresh: the session key comes back with the session.
      await page.reload()
      await page.waitForSelector('.records h1:has-text("vault")')
      await page.click('text=+ New record')
      await page.fill('.record-form input[name=title]', 'kept')
      await page.fill('.record-form input[name=secret]', 'top secret')
      await page.click('button[form=record-form]')
      await page.waitForSelector('.records-table tbody tr[data-id]')
      const list = await api('GET', '/api/collections/vault/records')
      assert.equal(list.status, 200)
      assert.deepEqual((list.json.items as { title: string; secret: string }[]).map((r) => [r.title, r.secret]), [['kept', 'top secret']])
      assert.deepEqual(refused, [], 'no request of the console was refused')
    }))
})
