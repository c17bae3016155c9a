/**
 * PocketBase's own benchmark (pocketbase/benchmarks) replayed against Plinth: the same schema,
 * rules, indexes, data volumes (posts10k only) and HTTP requests, as many at the same concurrency
 * (after a warm-up, unless `--warmup 0`), each beside PocketBase's published figure for a 2 vCPU
 * ARM64 host (bench/pocketbase/published.json).
 * Groups `pb-sqlite` and `pb-postgres`. Not reproduced: the 25k/50k/100k post tables, the mixed
 * read/write list, custom routes and hooks, and deletes (each request needs its own id).
 * Creates run last, so every list sees exactly the seeded volumes.
 */
import { readFileSync } from 'node:fs'
import { DESCRIPTION, PB_PASSWORD, pbSeed, POSTS_BASE, type PbSeed } from '../pocketbase/schema.ts'
import { adminOn, ENGINE_LABEL, ENGINE_NAME, QUIET, unavailable, type Engine } from '../lib/seed.ts'
import { startPlinth } from '../lib/servers.ts'
import type { BenchRequest, Scenario } from '../lib/types.ts'

interface Published {
  source: string
  scenarios: Record<string, { heading: string; requests: number; concurrency: number; completedMs: number; requestsPerSec: number }>
}
const published = JSON.parse(readFileSync(new URL('../pocketbase/published.json', import.meta.url), 'utf8')) as Published

interface Case {
  /** The key in published.json. */
  key: string
  /** The collection this case configures, and how (PocketBase resets its schema before each case). */
  configure?: { collection: string; settings: object }
  request: (s: PbSeed) => BenchRequest
}

const as = (s: PbSeed, r: BenchRequest): BenchRequest => ({ ...r, headers: { ...r.headers, authorization: s.token } })
/** A JSON POST; each `[<id>]` in `body` becomes a new id per request (for unique emails). */
const post = (path: string, body: string): BenchRequest => ({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body, uniqueIds: body.includes('[<id>]') })

/** A posts10k list as users0, under `listRule` with `indexes` (none by default). */
function list(key: string, query: string, listRule = '', indexes: string[] = []): Case {
  return {
    key,
    configure: { collection: 'posts10k', settings: { ...POSTS_BASE, listRule, indexes } },
    request: (s) => as(s, { path: `/api/collections/posts10k/records${query}` }),
  }
}
const AUTHOR_INDEX = ['CREATE INDEX idx_author_posts10k ON posts10k (author)']
const DESCRIPTION_INDEX = ['CREATE INDEX idx_descriptions_posts10k ON posts10k (description)']
const page = '?perPage=20'
const skip = '?perPage=20&skipTotal=1'

function create(key: string, collection: string, createRule: string, body: (s: PbSeed) => string, signedIn = false): Case {
  return {
    key,
    configure: { collection, settings: { createRule } },
    request: (s) => {
      const r = post(`/api/collections/${collection}/records`, body(s))
      return signedIn ? as(s, r) : r
    },
  }
}
const postBody = (s: PbSeed) =>
  JSON.stringify({ title: 'posts10k10000', description: DESCRIPTION, public: true, type: ['a', 'c'], author: s.userIds[1] })
const userBody = (s: PbSeed) =>
  JSON.stringify({
    email: 'u[<id>]@example.com', username: 'u[<id>]', organization: s.organizationIds[0],
    permissions: s.permissionIds.slice(0, 3), password: PB_PASSWORD, passwordConfirm: PB_PASSWORD,
  })
const password = post('/api/collections/users/auth-with-password', JSON.stringify({ identity: 'users0@example.com', password: PB_PASSWORD }))

const cases: Case[] = [
  { key: 'auth-password-high', request: () => password },
  { key: 'auth-password-small', request: () => password },
  { key: 'auth-refresh-high', request: (s) => as(s, { method: 'POST', path: '/api/collections/users/auth-refresh' }) },
  { key: 'auth-refresh-medium', request: (s) => as(s, { method: 'POST', path: '/api/collections/users/auth-refresh' }) },
  { key: 'getone-medium', request: (s) => as(s, { path: `/api/collections/users/records/${s.userId}` }) },
  { key: 'getone-high', request: (s) => as(s, { path: `/api/collections/users/records/${s.userId}` }) },
  list('list-simple-a', page),
  list('list-simple-b', page),
  list('list-simple-c', skip),
  list('expand-author', `${page}&expand=author`),
  list('expand-author-fields', `${page}&expand=author&fields=id,collectionId,expand.author.id`),
  list('expand-author-permissions', `${page}&expand=author.permissions`),
  list('expand-author-permissions-fields', `${page}&expand=author.permissions&fields=id,collectionId,expand.author.id,expand.author.expand.permissions.id`),
  list('auth-rule', page, "@request.auth.id != ''"),
  list('author', page, 'author = @request.auth.id'),
  list('author-index', page, 'author = @request.auth.id', AUTHOR_INDEX),
  list('author-index-skiptotal', skip, 'author = @request.auth.id', AUTHOR_INDEX),
  list('author-id', page, 'author.id = @request.auth.id'),
  list('author-id-index', page, 'author.id = @request.auth.id', AUTHOR_INDEX),
  list('author-id-index-skiptotal', skip, 'author.id = @request.auth.id', AUTHOR_INDEX),
  list('search', page, "description ~ 'ipsum dolor'"),
  list('search-index', page, "description ~ 'ipsum dolor'", DESCRIPTION_INDEX),
  list('search-index-skiptotal', skip, "description ~ 'ipsum dolor'", DESCRIPTION_INDEX),
  list('each-all', page, "type:each != 'c'"),
  list('each-all-skiptotal', skip, "type:each != 'c'"),
  list('each-any', page, "type:each ?!= 'c'"),
  list('each-any-skiptotal', skip, "type:each ?!= 'c'"),
  list('nested-single', page, "author.organization.name != 'test'"),
  list('nested-single-skiptotal', skip, "author.organization.name != 'test'"),
  list('nested-multi-all', page, 'author.permissions.active = true'),
  list('nested-multi-all-skiptotal', skip, 'author.permissions.active = true'),
  list('nested-multi-any', page, 'author.permissions.active ?= true'),
  list('nested-multi-any-skiptotal', skip, 'author.permissions.active ?= true'),
  create('create-organizations', 'organizations', '', () => '{"name":"organizations1000"}'),
  create('create-organizations-rule', 'organizations', "@request.body.name != ''", () => '{"name":"organizations1000"}'),
  create('create-permissions', 'permissions', '', () => '{"name":"permissions1000","active":true}'),
  create('create-permissions-rule', 'permissions', "@request.body.name != ''", () => '{"name":"permissions1000","active":true}'),
  create('create-users', 'users', '', userBody),
  create('create-users-rule', 'users', "@request.body.email != '' && @request.body.permissions:length > 0", userBody),
  create('create-posts', 'posts10k', '', postBody),
  create('create-posts-rule', 'posts10k', "@request.auth.id != '' && @request.body.public:isset = true", postBody, true),
]

/** PocketBase has no auth rate limit by default; Plinth's would turn 250 concurrent logins into 429s. */
const NO_THROTTLE = { PLINTH_AUTH_THROTTLE_PER_IDENTITY: '0', PLINTH_AUTH_THROTTLE_PER_IP: '0' }

function scenario(engine: Engine, c: Case): Scenario {
  const pb = published.scenarios[c.key]
  if (!pb) throw new Error(`bench: no published PocketBase figure for ${c.key}`)
  return {
    name: `pb-${c.key}-${ENGINE_LABEL[engine]}`,
    group: `pb-${ENGINE_LABEL[engine]}`,
    description: `PocketBase's "${pb.heading}", ${ENGINE_NAME[engine]}`,
    reference: 'pocketbase',
    connections: pb.concurrency,
    amount: pb.requests,
    targets: [
      {
        name: 'plinth',
        notes: `plinth serve on ${ENGINE_LABEL[engine]}, PLINTH_LOG_LEVEL=warn, no auth throttle (PocketBase's defaults)`,
        skip: () => unavailable(engine),
        async start() {
          const seed = await pbSeed(engine)
          const server = await startPlinth({ PLINTH_DB: seed.dbUrl, ...QUIET, ...NO_THROTTLE })
          try {
            if (c.configure) await (await adminOn(server.url)).call('PATCH', `/api/collections/${c.configure.collection}`, c.configure.settings)
          } catch (err) {
            await server.stop()
            throw err
          }
          return server
        },
        request: async () => c.request(await pbSeed(engine)),
      },
      {
        name: 'pocketbase',
        notes: `PocketBase v0.36.0's published figure: ${pb.requests} requests at ${pb.concurrency} concurrent in ${pb.completedMs} ms, 2 vCPU ARM64 (${published.source})`,
        published: { requestsPerSec: pb.requestsPerSec },
      },
    ],
  }
}

export default (['sqlite', 'postgres'] as const).flatMap((engine) => cases.map((c) => scenario(engine, c)))
