// Takes the README's screenshot of the admin console (docs/admin-console.png): a fresh Plinth with
// a small app's collections and records, signed in as a superuser, in Debian's Chromium.
// Run: node scripts/build.js --js && node --import tsx scripts/screenshot-admin.ts
import path from 'node:path'
import { createSuperuser } from '../src/auth/superusers.ts'
import { startConsole } from '../test/admin/harness.ts'

const out = path.resolve(import.meta.dirname, '..', 'docs', 'admin-console.png')
const rig = await startConsole({ viewport: { width: 1280, height: 600 }, overrides: { logLevel: 'warn' } })
try {
  await createSuperuser(rig.app.records, 'owner@example.com', 'owner-password-1')
  const call = async (method: string, url: string, body: unknown, token = '') => {
    const res = await fetch(rig.url + url, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) }, body: JSON.stringify(body) })
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`)
    return (await res.json()) as Record<string, unknown>
  }
  const { token } = (await call('POST', '/api/collections/_superusers/auth-with-password', { identity: 'owner@example.com', password: 'owner-password-1' })) as { token: string }
  await call('POST', '/api/collections', {
    name: 'posts', type: 'base', listRule: 'published = true', viewRule: '',
    fields: [
      { name: 'title', type: 'text', required: true, presentable: true },
      { name: 'published', type: 'bool' },
      { name: 'tags', type: 'select', values: ['news', 'tech', 'life'], maxSelect: 3 },
      { name: 'views', type: 'number' },
      { name: 'meta', type: 'json' },
      { name: 'created', type: 'autodate', onCreate: true },
    ],
  }, token)
  await call('POST', '/api/collections', { name: 'comments', type: 'base', fields: [{ name: 'body', type: 'text' }] }, token)
  const rows = [
    ['Hello, Plinth', true, ['news'], 1200], ['Moving from PocketBase', true, ['tech'], 860], ['Read replicas in practice', true, ['tech', 'news'], 430],
    ['Draft: push notifications', false, ['tech'], 0], ['Team offsite notes', false, ['life'], 12], ['Shipping the iOS app', true, ['news', 'life'], 2210],
  ] as const
  for (const [title, published, tags, views] of rows) await call('POST', '/api/collections/posts/records', { title, published, tags, views, meta: { lang: 'en' } }, token)
  const { page } = rig
  await page.goto(`${rig.url}/_/`)
  await page.fill('input[name=email]', 'owner@example.com')
  await page.fill('input[name=password]', 'owner-password-1')
  await page.click('button[type=submit]')
  await page.goto(`${rig.url}/_/#/collections/posts`)
  await page.waitForSelector('.records-table tbody tr[data-id]')
  await page.waitForTimeout(300)
  await page.screenshot({ path: out })
  process.stdout.write(`wrote ${out}\n`)
} finally {
  await rig.close()
}
