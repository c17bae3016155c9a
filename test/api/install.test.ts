/** First start: the install link's token creates the first superuser once, then stops working. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { createPlinth } from '../../src/app.ts'
import { installLink } from '../../src/auth/superusers.ts'
import { createLogger } from '../../src/log.ts'

test('install link: creates the first superuser, then is revoked', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-install-'))
  const app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
  try {
    const link = await installLink({ records: app.records, baseUrl: app.publicUrl, log: app.log })
    assert.ok(link)
    const token = link.split('/').at(-1)!
    const create = (email: string) =>
      app.http.inject({
        method: 'POST',
        url: '/api/collections/_superusers/records',
        headers: { authorization: token },
        payload: { email, password: 'first-admin-pass', passwordConfirm: 'first-admin-pass' },
      })
    const res = await create('first@example.com')
    assert.equal(res.statusCode, 200, res.body)
    const login = await app.http.inject({
      method: 'POST',
      url: '/api/collections/_superusers/auth-with-password',
      payload: { identity: 'first@example.com', password: 'first-admin-pass' },
    })
    assert.equal(login.statusCode, 200)
    // The installer record is gone, so its token no longer authenticates.
    assert.equal((await create('second@example.com')).statusCode, 403)
    assert.equal(await installLink({ records: app.records, baseUrl: app.publicUrl, log: app.log }), undefined)
  } finally {
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})
