/**
 * More of the console in Chromium: a relation picked in the record editor, sorting and pages of
 * the records table, a view collection whose query is previewed before it is saved, the
 * collections' JSON exported and imported in PocketBase's format, and the System page.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { skipReason, startConsole, type ConsoleRig } from './harness.ts'

const skip = skipReason()

describe('admin console collections', { skip }, () => {
  let rig: ConsoleRig
  let su = ''
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(rig.url + url, {
      method,
      headers: { 'content-type': 'application/json', ...(su ? { authorization: su } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await res.text()
    assert.ok(res.ok, `${method} ${url}: ${res.status} ${text}`)
    return (text ? JSON.parse(text) : undefined) as Record<string, unknown>
  }
  const rowIds = () => rig.page.locator('.records-table tbody tr[data-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))

  before(async () => {
    rig = await startConsole()
    await createSuperuser(rig.app.records, 'root@example.com', 'root-password-1')
    su = String((await api('POST', '/api/collections/_superusers/auth-with-password', { identity: 'root@example.com', password: 'root-password-1' })).token)
    const authors = await api('POST', '/api/collections', { name: 'authors', type: 'base', listRule: '', fields: [{ name: 'name', type: 'text', presentable: true }] })
    await api('POST', '/api/collections', {
      name: 'books', type: 'base',
      fields: [{ name: 'title', type: 'text' }, { name: 'pages', type: 'number' }, { name: 'author', type: 'relation', collectionId: authors.id, maxSelect: 1 }],
    })
    for (const name of ['Ann Author', 'Bob Writer']) await api('POST', '/api/collections/authors/records', { name })
    const { page } = rig
    await page.goto(`${rig.url}/_/`)
    await page.fill('input[name=email]', 'root@example.com')
    await page.fill('input[name=password]', 'root-password-1')
    await page.click('button[type=submit]')
    await page.waitForSelector('.nav')
  })
  after(async () => rig?.close())

  it('picks a related record in the record editor', () =>
    rig.step('relation', async () => {
      const { page } = rig
      await page.goto(`${rig.url}/_/#/collections/books`)
      await page.click('text=+ New record')
      await page.fill('.record-form input[name=title]', 'Picked')
      await page.click('[data-relation=author] button:has-text("Choose from authors")')
      await page.fill('input[name="author.search"]', 'Ann')
      await page.click('.picker label:has-text("Ann Author")')
      await page.click('button[form=record-form]')
      await page.waitForSelector('.records-table td:has-text("Picked")')
      const ann = ((await api('GET', '/api/collections/authors/records?filter=' + encodeURIComponent('name = "Ann Author"'))).items as { id: string }[])[0]!
      const book = ((await api('GET', '/api/collections/books/records')).items as { author: string }[])[0]!
      assert.equal(book.author, ann.id)
    }))

  it('sorts by a column header and pages through records', () =>
    rig.step('sort-pages', async () => {
      const { page } = rig
      for (let i = 1; i <= 24; i++) await api('POST', '/api/collections/books/records', { title: `Book ${i}`, pages: (i * 37) % 100 })
      await page.goto(`${rig.url}/_/#/collections/books`)
      await page.waitForSelector('.pager span:has-text("1 / 2")')
      const shown = async () => (await page.locator('.records-table tbody tr[data-id] td:nth-child(4)').allInnerTexts()).map((x) => (x === '—' ? 0 : Number(x)))
      // The header changes at once, the rows when the server answers: wait for the rows.
      const until = async (want: number[]) => {
        for (let i = 0; i < 100 && JSON.stringify(await shown()) !== JSON.stringify(want); i++) await page.waitForTimeout(100)
        assert.deepEqual(await shown(), want)
      }
      await page.click('th:has-text("pages")')
      await page.waitForSelector('th[aria-sort=ascending]:has-text("pages")')
      await until(((await api('GET', '/api/collections/books/records?perPage=20&sort=pages')).items as { pages: number }[]).map((r) => r.pages))
      await page.click('th:has-text("pages")')
      await page.waitForSelector('th[aria-sort=descending]:has-text("pages")')
      await until(((await api('GET', '/api/collections/books/records?perPage=20&sort=-pages')).items as { pages: number }[]).map((r) => r.pages))
      const pageOne = await rowIds()
      await page.click('button[aria-label="Next page"]')
      await page.waitForSelector('.pager span:has-text("2 / 2")')
      // The pager changes at once, the rows when the server answers: wait for other rows.
      let pageTwo = await rowIds()
      for (let i = 0; i < 100 && pageTwo.some((id) => pageOne.includes(id)); i++) {
        await page.waitForTimeout(100)
        pageTwo = await rowIds()
      }
      assert.equal(pageOne.length + pageTwo.length, 25)
      assert.ok(!pageTwo.some((id) => pageOne.includes(id)), 'the second page shows other records')
    }))

  it('previews a view query before saving it', () =>
    rig.step('view', async () => {
      const { page } = rig
      await page.click('text=+ New collection')
      await page.fill('.collection-editor input[name=name]', 'short_books')
      await page.selectOption('.collection-editor select[name=type]', 'view')
      await page.fill('textarea[name=viewQuery]', 'SELECT id, title, pages FROM books WHERE pages < 30')
      await page.click('.view-query button:has-text("Preview")')
      await page.waitForSelector('.view-query table th:has-text("title")')
      assert.ok((await page.locator('.view-query tbody tr').count()) > 0)
      // A broken query shows the server's error, without saving anything.
      await page.fill('textarea[name=viewQuery]', 'SELECT nope FROM nowhere')
      await page.click('.view-query button:has-text("Preview")')
      await page.waitForSelector('.view-query .field.invalid .error')
      await page.fill('textarea[name=viewQuery]', 'SELECT id, title, pages FROM books WHERE pages < 30')
      await page.click('button[form=collection-form]')
      await page.waitForSelector('.records h1:has-text("short_books")')
      const names = ((await api('GET', '/api/collections?perPage=200')).items as { name: string; type: string }[])
      assert.equal(names.find((c) => c.name === 'short_books')?.type, 'view')
      assert.ok(!names.some((c) => c.name.startsWith('_preview_')), 'no preview collection is left behind')
    }))

  it('exports and imports the collections JSON in PocketBase format', () =>
    rig.step('import-export', async () => {
      const { page } = rig
      await page.click('text=Import / export')
      const exported = JSON.parse(await page.locator('textarea[name=export]').inputValue()) as { name: string; fields: unknown[]; created?: string }[]
      const books = exported.find((c) => c.name === 'books')
      assert.ok(books && Array.isArray(books.fields) && books.created === undefined)
      await page.click('.modal .tabs button:has-text("Import")')
      const extra = { name: 'imported_tags', type: 'base', fields: [{ name: 'label', type: 'text' }] }
      await page.fill('textarea[name=import]', JSON.stringify([...exported, extra]))
      await page.click('.modal button:has-text("Import"):not([role=tab])')
      await page.waitForSelector('.side-list a:has-text("imported_tags")')
      const c = await api('GET', '/api/collections/imported_tags')
      assert.deepEqual((c.fields as { name: string }[]).map((f) => f.name).filter((n) => n !== 'id'), ['label'])
    }))

  it('creates an app user in an auth collection, with a password that signs in', () =>
    rig.step('auth-record', async () => {
      const { page } = rig
      await page.goto(`${rig.url}/_/#/collections/users`)
      await page.click('text=+ New record')
      await page.fill('.record-form input[name=email]', 'made-in-console@example.com')
      await page.check('.record-form input[name=verified]')
      await page.fill('.record-form input[name=password]', 'console-pass-1')
      await page.fill('.record-form input[name=passwordConfirm]', 'console-pass-2')
      await page.click('button[form=record-form]')
      // The server's field error lands under the field.
      await page.locator('.record-form .field.invalid:has(input[name=passwordConfirm]) .error').waitFor()
      await page.fill('.record-form input[name=passwordConfirm]', 'console-pass-1')
      await page.click('button[form=record-form]')
      await page.waitForSelector('.records-table td:has-text("made-in-console@example.com")')
      const login = await fetch(`${rig.url}/api/collections/users/auth-with-password`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identity: 'made-in-console@example.com', password: 'console-pass-1' }),
      })
      assert.equal(login.status, 200)
      assert.equal(((await login.json()) as { record: { verified: boolean } }).record.verified, true)
    }))

  it('shows the system overview', () =>
    rig.step('system', async () => {
      const { page } = rig
      await page.click('.nav a[data-section=system]')
      await page.waitForSelector('.system td:has-text("sqlite")')
      assert.equal(await page.locator('.system tr:has(td:has-text("sqlite")) .badge').innerText(), 'primary')
      await page.waitForSelector('.system h2:has-text("Jobs")')
    }))
})
