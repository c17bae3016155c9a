/**
 * The admin console in real Chromium, one newcomer's path through it: the install link creates
 * the first superuser, sign-out and sign-in, a collection with several field types and rules
 * (a rule error shown where it belongs, completion of field names), records added, filtered,
 * edited and deleted (one arriving live through realtime), a setting changed and a test mail
 * sent to the log mailer, the logs showing the request just made, and the password-reset page
 * of a mail link. Every step goes through the UI; the API only checks what the UI did.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { installLink } from '../../src/auth/superusers.ts'
import { mails, skipReason, startConsole, type ConsoleRig } from './harness.ts'

/** Waits until the records table shows `n` rows (the page's CSP forbids waitForFunction's eval). */
async function rowsShown(page: Page, n: number): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if ((await page.locator('.records-table tbody tr[data-id]').count()) === n) return
    await page.waitForTimeout(100)
  }
  throw new Error(`the table did not come to ${n} rows`)
}

const skip = skipReason()

const EMAIL = 'owner@example.com'
const PASSWORD = 'owner-password-1'
// A 1x1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64')

describe('admin console', { skip }, () => {
  let rig: ConsoleRig
  let token = ''
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(rig.url + url, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await res.text()
    return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> }
  }

  before(async () => {
    rig = await startConsole()
    rig.page.on('dialog', (d) => void d.accept(d.type() === 'prompt' ? 'posts' : undefined))
  })
  after(async () => rig?.close())

  it('install link: opens a page that creates the first superuser and signs in', () =>
    rig.step('install', async () => {
      const link = await installLink({ records: rig.app.records, baseUrl: rig.url, log: rig.app.log })
      assert.ok(link?.startsWith(`${rig.url}/_/#/pbinstall/`), link)
      const { page } = rig
      await page.goto(link!)
      await page.fill('input[name=email]', EMAIL)
      await page.fill('input[name=password]', PASSWORD)
      await page.fill('input[name=passwordConfirm]', PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('.nav a[data-section=collections]')
      const login = await api('POST', '/api/collections/_superusers/auth-with-password', { identity: EMAIL, password: PASSWORD })
      assert.equal(login.status, 200)
      token = String(login.json.token)
    }))

  it('signs out and back in', () =>
    rig.step('sign-in', async () => {
      const { page } = rig
      await page.click('.nav .who button')
      await page.waitForSelector('form.login')
      await page.fill('input[name=email]', EMAIL)
      await page.fill('input[name=password]', 'wrong-password-1')
      await page.click('button[type=submit]')
      await page.waitForSelector('form.login .error')
      await page.fill('input[name=password]', PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('.nav a[data-section=collections]')
    }))

  it('creates a collection with several field types and rules', () =>
    rig.step('collection', async () => {
      const { page } = rig
      await page.goto(`${rig.url}/_/#/collections`)
      await page.click('text=+ New collection')
      await page.fill('.collection-editor input[name=name]', 'posts')
      const add = async (type: string, name: string) => {
        await page.selectOption('select[name=newFieldType]', type)
        await page.click('.add-field button')
        const row = page.locator('.field-row').last()
        await row.locator('.field-head input[aria-label="Field name"]').fill(name)
        return row
      }
      const title = await add('text', 'title')
      await title.locator('.field-head input[type=checkbox]').check()
      await add('number', 'views')
      await add('bool', 'published')
      const tags = await add('select', 'tags')
      await tags.locator('input[name="tags.values"]').fill('news, tech, fun')
      await tags.locator('input[name="tags.values"]').press('Tab')
      await tags.locator('input[name="tags.maxSelect"]').fill('3')
      await add('json', 'meta')
      await add('date', 'publishedAt')
      await add('file', 'cover')
      await page.click('.tabs button:has-text("API rules")')
      // Completion: "pub" + Tab becomes the field name.
      const list = page.locator('[data-rule=listRule]')
      await list.locator('input[type=checkbox]').uncheck()
      await list.locator('textarea').pressSequentially('pub')
      await list.locator('textarea').press('Tab')
      assert.equal(await list.locator('textarea').inputValue(), 'published')
      await list.locator('textarea').pressSequentially(' = true')
      const view = page.locator('[data-rule=viewRule]')
      await view.locator('input[type=checkbox]').uncheck()
      // A rule naming a field that does not exist: the server's error shows under it on save.
      const update = page.locator('[data-rule=updateRule]')
      await update.locator('input[type=checkbox]').uncheck()
      await update.locator('textarea').fill('nosuchfield = 1')
      await page.click('button[form=collection-form]')
      await update.locator('small.error').waitFor()
      await update.locator('textarea').fill('@request.auth.id != ""')
      await page.click('button[form=collection-form]')
      await page.waitForSelector('.records h1:has-text("posts")')
      const c = await api('GET', '/api/collections/posts')
      assert.equal(c.status, 200)
      assert.equal(c.json.listRule, 'published = true')
      assert.equal(c.json.viewRule, '')
      assert.equal(c.json.updateRule, '@request.auth.id != ""')
      assert.equal(c.json.createRule, null)
      const fields = c.json.fields as { name: string; type: string; required?: boolean; values?: string[]; maxSelect?: number }[]
      const byName = new Map(fields.map((f) => [f.name, f]))
      assert.deepEqual([...byName.keys()].filter((n) => !['id', 'created', 'updated'].includes(n)), ['title', 'views', 'published', 'tags', 'meta', 'publishedAt', 'cover'])
      assert.equal(byName.get('title')?.required, true)
      assert.deepEqual(byName.get('tags')?.values, ['news', 'tech', 'fun'])
      assert.equal(byName.get('tags')?.maxSelect, 3)
      assert.equal(byName.get('cover')?.type, 'file')
      // An existing collection's rule is checked as it is typed.
      await page.click('text=Edit collection')
      await page.click('.tabs button:has-text("API rules")')
      await page.locator('[data-rule=listRule] textarea').fill('published = true && nosuch > 1')
      await page.locator('[data-rule=listRule] small.error').waitFor()
      await page.locator('[data-rule=listRule] textarea').fill('published = true')
      await page.locator('[data-rule=listRule] small.ok').waitFor()
      await page.click('.modal header button')
    }))

  it('adds, filters, edits and deletes records; a record added elsewhere appears live', () =>
    rig.step('records', async () => {
      const { page } = rig
      await page.click('text=+ New record')
      await page.fill('.record-form input[name=title]', 'First post')
      await page.fill('.record-form input[name=views]', '42')
      await page.check('.record-form input[name=published]')
      await page.check('.record-form input[name="tags.news"]')
      await page.check('.record-form input[name="tags.fun"]')
      await page.fill('.record-form textarea[name=meta]', '{"color": "red"}')
      await page.fill('.record-form input[name=publishedAt]', '2024-05-06T07:08:09')
      await page.setInputFiles('.record-form input[type=file][name=cover]', { name: 'cover.png', mimeType: 'image/png', buffer: PNG })
      await page.locator('.file-input figure.new img').waitFor()
      await page.click('button[form=record-form]')
      await page.waitForSelector('.records-table tbody tr[data-id]')
      const list = await api('GET', '/api/collections/posts/records')
      const first = (list.json.items as Record<string, unknown>[])[0]!
      assert.equal(first.title, 'First post')
      assert.equal(first.views, 42)
      assert.equal(first.published, true)
      assert.deepEqual(first.tags, ['news', 'fun'])
      assert.deepEqual(first.meta, { color: 'red' })
      assert.equal(first.publishedAt, '2024-05-06 07:08:09.000Z')
      assert.match(String(first.cover), /^cover_\w+\.png$/)
      await page.locator(`.records-table img.thumb`).waitFor()

      // Live: a record created through the API shows up without a reload.
      const second = await api('POST', '/api/collections/posts/records', { title: 'Second post', views: 1 })
      assert.equal(second.status, 200)
      await page.waitForSelector(`.records-table tr[data-id="${String(second.json.id)}"]`)

      // Filter: PocketBase syntax; a bad one shows the server's message and keeps the rows.
      await page.locator('.filter-bar textarea[name=filter]').fill('nosuch = 1')
      await page.locator('.filter-error').waitFor()
      await page.locator('.filter-bar textarea[name=filter]').fill('title ~ "Second"')
      await rowsShown(page, 1)
      assert.equal(await page.locator('.records-table tbody tr[data-id]').getAttribute('data-id'), second.json.id)

      // Edit through the editor.
      await page.locator('.records-table tbody tr[data-id] td').nth(1).click()
      await page.fill('.record-form input[name=title]', 'Second post, edited')
      await page.click('button[form=record-form]')
      await page.waitForSelector('.records-table td:has-text("Second post, edited")')
      const edited = await api('GET', `/api/collections/posts/records/${String(second.json.id)}`)
      assert.equal(edited.json.title, 'Second post, edited')

      // Bulk delete both.
      await page.locator('.filter-bar textarea[name=filter]').fill('')
      await rowsShown(page, 2)
      await page.check('.records-table thead input[type=checkbox]')
      await page.click('.bulk-bar button.danger')
      await page.waitForSelector('.records-table .empty-row')
      assert.equal((await api('GET', '/api/collections/posts/records')).json.totalItems, 0)
    }))

  it('changes a setting and sends a test mail to the log mailer', () =>
    rig.step('settings', async () => {
      const { page } = rig
      await page.click('.nav a[data-section=settings]')
      await page.fill('input[name="meta.appName"]', 'Console Test')
      await page.click('.settings .page-head button.primary')
      await page.waitForSelector('.toast:has-text("Settings saved")')
      assert.equal(((await api('GET', '/api/settings')).json.meta as { appName: string }).appName, 'Console Test')
      await page.fill('input[name="testEmail.to"]', 'mail-test@example.com')
      await page.selectOption('select[name="testEmail.template"]', 'password-reset')
      await page.click('.test-email button')
      await page.waitForSelector('.test-email .success')
      assert.ok(mails(rig.logLines).some((m) => m.to.some((a) => a.includes('mail-test@example.com'))), 'the test mail reached the log mailer')
    }))

  it('shows the request just made in the logs', () =>
    rig.step('logs', async () => {
      const { page } = rig
      await page.click('.nav a[data-section=logs]')
      // Request logs are written in batches off the request path: refresh until the PATCH is there.
      for (let i = 0; i < 40; i++) {
        if (await page.locator('.logs-table td:has-text("PATCH /api/settings")').count()) break
        await page.waitForTimeout(250)
        await page.click('.logs .page-head button')
      }
      await page.locator('.logs-table td:has-text("PATCH /api/settings")').first().waitFor()
      await page.locator('.chart svg rect.bar').first().waitFor()
      await page.locator('.logs-table td:has-text("PATCH /api/settings")').first().click()
      await page.waitForSelector('.modal pre.code')
      await page.click('.modal header button')
      // The filter: only failed requests (the wrong password at sign-in was one).
      await page.fill('.logs input[name=filter]', 'data.status >= 400')
      await page.click('.logs .filter-bar button[type=submit]')
      await page.locator('.logs-table td:has-text("auth-with-password")').first().waitFor()
      // The unfiltered rows stay until the server answers the filtered list: wait for the new rows
      // (the bound only turns a lost answer into a failure).
      const shown = async () => (await page.locator('.logs-table tbody tr[data-id] td:nth-child(3)').allInnerTexts()).map(Number)
      let statuses = await shown()
      for (let i = 0; i < 100 && !(statuses.length > 0 && statuses.every((s) => s >= 400)); i++) {
        await page.waitForTimeout(100)
        statuses = await shown()
      }
      assert.ok(statuses.length > 0 && statuses.every((s) => s >= 400), `statuses shown: ${statuses.join(', ')}`)
    }))

  it('password reset: the page behind the mail link sets a new password', () =>
    rig.step('password-reset', async () => {
      const user = await api('POST', '/api/collections/users/records', { email: 'reader@example.com', password: 'reader-pass-1', passwordConfirm: 'reader-pass-1' })
      assert.equal(user.status, 200, JSON.stringify(user.json))
      const before = mails(rig.logLines).length
      assert.equal((await api('POST', '/api/collections/users/request-password-reset', { email: 'reader@example.com' })).status, 204)
      let link = ''
      for (let i = 0; i < 100 && !link; i++) {
        const mail = mails(rig.logLines).slice(before).find((m) => m.to.some((a) => a.includes('reader@example.com')))
        link = /https?:\/\/\S+\/_\/#\/auth\/confirm-password-reset\/[\w.-]+/.exec(mail?.text ?? '')?.[0] ?? ''
        if (!link) await new Promise((r) => setTimeout(r, 100))
      }
      assert.ok(link.startsWith(`${rig.url}/_/#/auth/confirm-password-reset/`), 'the reset mail carries the console link')
      const page = await rig.context.newPage()
      await page.goto(link)
      await page.fill('input[name=password]', 'reader-new-pass-2')
      await page.fill('input[name=passwordConfirm]', 'reader-new-pass-2')
      await page.click('button[type=submit]')
      await page.waitForSelector('.success')
      await page.close()
      const login = await fetch(`${rig.url}/api/collections/users/auth-with-password`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identity: 'reader@example.com', password: 'reader-new-pass-2' }),
      })
      assert.equal(login.status, 200)
    }))
})
