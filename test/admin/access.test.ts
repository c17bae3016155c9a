/**
 * Who sees what in the console, in real Chromium: a signed-in app user (not a superuser) gets the
 * sign-in page and no data; a superuser with MFA signs in with password then a mailed code; the
 * console speaks Simplified Chinese to a zh-CN browser; a phone-sized screen folds the menu; the
 * verification link of a mail opens a page that verifies.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { mails, skipReason, startConsole, type ConsoleRig } from './harness.ts'

/** The little of the page's globals these tests touch (the tests compile without the DOM library). */
interface Browserish {
  localStorage: { setItem(key: string, value: string): void }
  document: { documentElement: { scrollWidth: number } }
}

const skip = skipReason()

describe('admin console access', { skip }, () => {
  let rig: ConsoleRig
  let su = ''
  const api = async (method: string, url: string, body?: unknown, token = su) => {
    const res = await fetch(rig.url + url, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await res.text()
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> }
  }
  /** Polls the captured mails for one to `to` that matches `pattern`; returns the match. */
  const mailMatch = async (to: string, pattern: RegExp, from: number): Promise<RegExpExecArray> => {
    for (let i = 0; i < 100; i++) {
      for (const m of mails(rig.logLines).slice(from)) {
        const hit = m.to.some((a) => a.includes(to)) ? pattern.exec(m.text) : null
        if (hit) return hit
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`no mail to ${to} matching ${pattern}`)
  }

  before(async () => {
    rig = await startConsole()
    await createSuperuser(rig.app.records, 'root@example.com', 'root-password-1')
    su = String((await api('POST', '/api/collections/_superusers/auth-with-password', { identity: 'root@example.com', password: 'root-password-1' }, '')).json.token)
  })
  after(async () => rig?.close())

  it('an app user signed in gets the sign-in page and no data', () =>
    rig.step('non-superuser', async () => {
      assert.equal((await api('POST', '/api/collections/users/records', { email: 'app-user@example.com', password: 'app-user-pass-1', passwordConfirm: 'app-user-pass-1' })).status, 200)
      const login = await api('POST', '/api/collections/users/auth-with-password', { identity: 'app-user@example.com', password: 'app-user-pass-1' }, '')
      const page = await rig.context.newPage()
      const dataAnswers: string[] = []
      page.on('response', (r) => {
        if (/\/api\/(collections(?!\/_superusers\/auth-methods)|settings|logs|jobs|metrics)/.test(r.url()) && r.status() === 200) dataAnswers.push(r.url())
      })
      // The user's session stored where the console keeps its own (as if they had signed in there).
      await page.goto(`${rig.url}/_/`)
      await page.evaluate(([token, record]) => (globalThis as unknown as Browserish).localStorage.setItem('plinth_admin_auth', JSON.stringify({ token, record })), [login.json.token, login.json.record] as const)
      for (const route of ['#/collections/users', '#/settings', '#/logs', '#/system']) {
        await page.goto(`${rig.url}/_/${route}`)
        await page.waitForSelector('form.login')
        assert.equal(await page.locator('.nav').count(), 0, `${route}: no console frame`)
      }
      assert.deepEqual(dataAnswers, [], 'no data reached the page')
      // And the API refuses them anyway.
      assert.equal((await api('GET', '/api/collections', undefined, String(login.json.token))).status, 403)
      await page.close()
    }))

  it('a superuser with MFA signs in with the password, then a code sent by mail', () =>
    rig.step('mfa', async () => {
      const patched = await api('PATCH', '/api/collections/_superusers', { otp: { enabled: true }, mfa: { enabled: true } })
      assert.equal(patched.status, 200, JSON.stringify(patched.json))
      const page = await rig.context.newPage()
      await page.goto(`${rig.url}/_/`)
      await page.fill('input[name=email]', 'root@example.com')
      await page.fill('input[name=password]', 'root-password-1')
      await page.click('button[type=submit]')
      // The password was right: the second step asks for a code.
      await page.waitForSelector('button[type=submit]:has-text("Send me a code")')
      const from = mails(rig.logLines).length
      await page.click('button[type=submit]')
      await page.waitForSelector('input[name=otp]')
      const code = (await mailMatch('root@example.com', /\b\d{6,10}\b/, from))[0]
      await page.fill('input[name=otp]', code)
      await page.click('button[type=submit]')
      await page.waitForSelector('.nav a[data-section=collections]')
      await page.close()
      assert.equal((await api('PATCH', '/api/collections/_superusers', { otp: { enabled: false }, mfa: { enabled: false } })).status, 200)
    }))

  it('speaks Simplified Chinese to a zh-CN browser', () =>
    rig.step('zh-CN', async () => {
      const context = await rig.browser.newContext({ locale: 'zh-CN' })
      const page = await context.newPage()
      await page.goto(`${rig.url}/_/`)
      await page.waitForSelector('h1:has-text("超级用户登录")')
      assert.equal(await page.locator('button[type=submit]').innerText(), '登录')
      await context.close()
    }))

  it('on a phone-sized screen the menu folds and opens', () =>
    rig.step('phone', async () => {
      const context = await rig.browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true })
      const page = await context.newPage()
      await page.goto(`${rig.url}/_/`)
      await page.fill('input[name=email]', 'root@example.com')
      await page.fill('input[name=password]', 'root-password-1')
      await page.click('button[type=submit]')
      await page.waitForSelector('.menu-toggle')
      assert.equal(await page.locator('.nav nav').isVisible(), false)
      await page.click('.menu-toggle')
      await page.click('.nav a[data-section=system]')
      await page.waitForSelector('.system .stat')
      // Nothing sticks out sideways: the page is as wide as the screen.
      const width = await page.evaluate(() => (globalThis as unknown as Browserish).document.documentElement.scrollWidth)
      assert.ok(width <= 390, `page is ${width}px wide`)
      await context.close()
    }))

  it('the verification link of a mail opens a page that verifies', () =>
    rig.step('verification', async () => {
      const from = mails(rig.logLines).length
      assert.equal((await api('POST', '/api/collections/users/request-verification', { email: 'app-user@example.com' }, '')).status, 204)
      const link = (await mailMatch('app-user@example.com', /https?:\/\/\S+\/_\/#\/auth\/confirm-verification\/[\w.-]+/, from))[0]
      const page = await rig.context.newPage()
      await page.goto(link)
      await page.waitForSelector('.success')
      await page.close()
      const users = await api('GET', '/api/collections/users/records?filter=' + encodeURIComponent('email = "app-user@example.com"'))
      assert.equal((users.json.items as { verified: boolean }[])[0]?.verified, true)
    }))
})
