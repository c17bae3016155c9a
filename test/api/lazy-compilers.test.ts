/**
 * Schema compilers loaded and run on first use (src/api/lazy-compilers.ts) behave as Fastify's
 * defaults: the same Ajv options (querystring coercion, defaults, extra body keys removed), header
 * schemas matched case-insensitively, response schemas serialised, the same validation errors;
 * and a route's validator is only built when the route is first requested.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { lazySchemaCompilers } from '../../src/api/lazy-compilers.ts'

/** The same routes on Fastify with its default compilers and with the lazy ones. */
function server(lazy: boolean): FastifyInstance {
  const http = Fastify(lazy ? { schemaController: { compilersFactory: lazySchemaCompilers() } } : {})
  http.get(
    '/q',
    { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' }, tag: { type: 'string', default: 'none' } } } } },
    async (request) => ({ query: request.query }),
  )
  http.get(
    '/h',
    { schema: { headers: { type: 'object', required: ['X-Token'], properties: { 'X-Token': { type: 'string', minLength: 3 } } } } },
    async (request) => ({ token: request.headers['x-token'] }),
  )
  http.post(
    '/b',
    { schema: { body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 3 } } } } },
    async (request) => ({ body: request.body }),
  )
  http.get(
    '/r',
    { schema: { response: { 200: { type: 'object', properties: { shown: { type: 'string' } } } } } },
    async () => ({ shown: 'yes', hidden: 'no' }),
  )
  return http
}

const requests = [
  { method: 'GET', url: '/q?n=5' },
  { method: 'GET', url: '/q?n=five' },
  { method: 'GET', url: '/h', headers: { 'x-token': 'abcd' } },
  { method: 'GET', url: '/h', headers: { 'X-TOKEN': 'ab' } },
  { method: 'GET', url: '/h' },
  { method: 'POST', url: '/b', payload: { name: 'plinth', extra: 1 } },
  { method: 'POST', url: '/b', payload: { name: 'pl' } },
  { method: 'POST', url: '/b', payload: {} },
  { method: 'GET', url: '/r' },
] as const

describe('lazy schema compilers', () => {
  test('answer every request exactly as Fastify with its default compilers', async () => {
    const eager = server(false)
    const lazy = server(true)
    try {
      for (const r of requests) {
        const [a, b] = await Promise.all([eager.inject(r), lazy.inject(r)])
        assert.equal(b.statusCode, a.statusCode, `${r.method} ${r.url}`)
        assert.deepEqual(JSON.parse(b.body), JSON.parse(a.body), `${r.method} ${r.url}`)
      }
      // The cases above do differ from each other: coercion, defaults and errors all happened.
      assert.deepEqual((await lazy.inject(requests[0])).json(), { query: { n: 5, tag: 'none' } })
      assert.equal((await lazy.inject(requests[3])).statusCode, 400)
      assert.deepEqual((await lazy.inject(requests[5])).json(), { body: { name: 'plinth' } })
      assert.deepEqual((await lazy.inject(requests[8])).json(), { shown: 'yes' })
    } finally {
      await Promise.all([eager.close(), lazy.close()])
    }
  })

  test('compile a route\'s schema when the route is first requested, not before listening', async () => {
    // A schema Ajv refuses shows when the compile happens: Fastify's default refuses it at ready.
    const broken = { schema: { querystring: { type: 'object', properties: { n: { type: 'no-such-type' } } } } }
    const eager = Fastify()
    eager.get('/broken', broken, async () => 'never')
    await assert.rejects(async () => void (await eager.ready()), /Failed building the validation schema for GET: \/broken/)
    await eager.close()

    const lazy = Fastify({ schemaController: { compilersFactory: lazySchemaCompilers() } })
    lazy.get('/broken', broken, async () => 'never')
    lazy.get('/fine', async () => 'fine')
    await lazy.ready()
    assert.equal((await lazy.inject('/fine')).statusCode, 200)
    assert.equal((await lazy.inject('/broken')).statusCode, 500)
    await lazy.close()
  })
})
