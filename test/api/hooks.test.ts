/** Record hooks for app code: change data before next(), refuse with an ApiError, per collection, after-success/error. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { createPlinth, type Plinth } from '../../src/app.ts'
import { createSuperuser } from '../../src/auth/superusers.ts'
import { ApiError } from '../../src/errors.ts'
import { createLogger } from '../../src/log.ts'
import { isAuthCollection } from '../../src/records/model.ts'

let app: Plinth
let dir: string
let token: string
const seen: string[] = []

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'plinth-hooks-'))
  app = await createPlinth({ config: { cwd: dir, env: {}, overrides: { dir, logLevel: 'silent' } }, logger: createLogger({ logLevel: 'silent' }) })
  const su = app.collections.getOrThrow('_superusers')
  assert.ok(isAuthCollection(su))
  await createSuperuser(app.records, 'root@example.com', 'root-password-1')
  const login = await app.http.inject({ method: 'POST', url: '/api/collections/_superusers/auth-with-password', payload: { identity: 'root@example.com', password: 'root-password-1' } })
  token = login.json<{ token: string }>().token
  for (const name of ['posts', 'other']) {
    const res = await app.http.inject({
      method: 'POST', url: '/api/collections', headers: { authorization: token },
      payload: { name, listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '', fields: [{ name: 'title', type: 'text' }, { name: 'slug', type: 'text' }] },
    })
    assert.equal(res.statusCode, 200, res.body)
  }
  app.hooks.onRecordCreate(async (e, next) => {
    if (e.data.title === 'forbidden') throw new ApiError('bad_request', 'No forbidden titles.')
    e.data.slug = String(e.data.title ?? '').toLowerCase().replaceAll(' ', '-')
    await next()
    seen.push(`created ${String(e.record?.slug)}`)
  }, 'posts')
  app.hooks.onRecordAfterCreateSuccess(async (e) => void seen.push(`success ${e.collection.name}`))
  app.hooks.onRecordAfterCreateError(async (e) => void seen.push(`error ${e.collection.name}`))
  app.hooks.onRecordDelete(async (e, next) => {
    if (e.id === 'keepme000000000') return // not calling next(): the delete does not happen
    await next()
  })
})
after(async () => {
  await app?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const create = (collection: string, payload: Record<string, unknown>) => app.http.inject({ method: 'POST', url: `/api/collections/${collection}/records`, payload })

test('a hook changes the data before next() and sees the created record after it', async () => {
  seen.length = 0
  const res = await create('posts', { title: 'Hello World' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.json<{ slug: string }>().slug, 'hello-world')
  assert.deepEqual(seen, ['created hello-world', 'success posts'])
})

test('a hook bound to one collection does not run for another', async () => {
  seen.length = 0
  const res = await create('other', { title: 'Hello World' })
  assert.equal(res.json<{ slug: string }>().slug, '')
  assert.deepEqual(seen, ['success other'])
})

test('a hook refuses with an ApiError: the client gets it, nothing is stored, error hooks run', async () => {
  seen.length = 0
  const res = await create('posts', { title: 'forbidden' })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json<{ message: string }>().message, 'No forbidden titles.')
  assert.deepEqual(seen, ['error posts'])
  const list = await app.http.inject({ method: 'GET', url: `/api/collections/posts/records?filter=${encodeURIComponent("title = 'forbidden'")}` })
  assert.equal(list.json<{ totalItems: number }>().totalItems, 0)
})

test('a hook that does not call next() stops the operation', async () => {
  assert.equal((await create('posts', { id: 'keepme000000000', title: 'keep' })).statusCode, 200)
  const del = await app.http.inject({ method: 'DELETE', url: '/api/collections/posts/records/keepme000000000' })
  assert.equal(del.statusCode, 400)
  const view = await app.http.inject({ method: 'GET', url: '/api/collections/posts/records/keepme000000000' })
  assert.equal(view.statusCode, 200)
})
