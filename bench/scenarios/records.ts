/**
 * Records as a logged-in user under an owner rule (`owner = @request.auth.id`), PocketBase's
 * everyday read path: view one record by id, and a filtered list of 30 (with totals). Each on
 * SQLite and on PostgreSQL, against bare Fastify running the same SQL on the same database in
 * the same run; on PostgreSQL also Parse Server 9 doing the same authenticated view (ACL).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createTestDb, engines, type EngineName } from '../../test/helpers/engines.ts'
import { startParsePeer, type ParsePeer } from '../peers/parse-server.ts'
import { freePort, PLINTH_BIN, ROOT, spawnServer, startPlinth } from '../lib/servers.ts'
import type { RunningServer, Scenario, Target } from '../lib/types.ts'

interface Seed {
  dbUrl: string
  token: string
  userId: string
  postId: string
}

const POSTS_PER_USER = 300
const seeds = new Map<EngineName, Promise<Seed>>()

async function api<T>(url: string, method: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** A database with two users and their posts, made once per engine through Plinth's own API. */
function seed(engine: EngineName): Promise<Seed> {
  let s = seeds.get(engine)
  if (s) return s
  s = (async () => {
    const dbUrl = engine === 'sqlite' ? `sqlite://${mkdtempSync(path.join(tmpdir(), 'plinth-bench-rec-'))}/data.db` : (await createTestDb(engine)).url
    const plinth = await startPlinth({ PLINTH_DB: dbUrl, PLINTH_LOG_LEVEL: 'warn' })
    try {
      const cli = spawnSync(process.execPath, [PLINTH_BIN, 'superuser', 'upsert', 'root@bench.local', 'bench-root-password'], {
        env: { ...process.env, PLINTH_DB: dbUrl },
        cwd: ROOT,
        encoding: 'utf8',
      })
      if (cli.status !== 0) throw new Error(`superuser upsert failed: ${cli.stderr}`)
      const root = await api<{ token: string }>(`${plinth.url}/api/collections/_superusers/auth-with-password`, 'POST', { identity: 'root@bench.local', password: 'bench-root-password' })
      const owner = 'owner = @request.auth.id'
      await api(`${plinth.url}/api/collections`, 'POST', {
        name: 'posts',
        listRule: owner,
        viewRule: owner,
        fields: [
          { name: 'title', type: 'text' },
          { name: 'body', type: 'text' },
          { name: 'published', type: 'bool' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'created', type: 'autodate', onCreate: true },
        ],
        indexes: ['CREATE INDEX idx_posts_owner ON posts (owner, published)'],
      }, root.token)
      const users: { id: string }[] = []
      for (const name of ['ann', 'bob']) {
        users.push(await api(`${plinth.url}/api/collections/users/records`, 'POST', { email: `${name}@bench.local`, password: 'bench-password', passwordConfirm: 'bench-password' }))
      }
      let postId = ''
      for (const user of users) {
        for (let i = 0; i < POSTS_PER_USER; i += 50) {
          const requests = Array.from({ length: 50 }, (_, j) => ({
            method: 'POST',
            url: '/api/collections/posts/records',
            body: { title: `post ${i + j}`, body: 'x'.repeat(200), published: (i + j) % 2 === 0, owner: user.id },
          }))
          const res = await api<{ body: { id: string } }[]>(`${plinth.url}/api/batch`, 'POST', { requests }, root.token)
          postId ||= res[0]!.body.id
        }
      }
      const login = await api<{ token: string; record: { id: string } }>(`${plinth.url}/api/collections/users/auth-with-password`, 'POST', { identity: 'ann@bench.local', password: 'bench-password' })
      return { dbUrl, token: login.token, userId: login.record.id, postId }
    } finally {
      await plinth.stop()
    }
  })()
  seeds.set(engine, s)
  return s
}

async function unavailable(engine: EngineName): Promise<string | undefined> {
  const [e] = await engines([engine]).catch(() => [{ engine, skip: `${engine} is not reachable` }])
  return e?.skip || undefined
}

const view = (s: Seed) => ({ path: `/api/collections/posts/records/${s.postId}`, headers: { authorization: s.token } })
const list = (s: Seed) => ({ path: `/api/collections/posts/records?perPage=30&filter=${encodeURIComponent('published = true')}`, headers: { authorization: s.token } })

function targets(engine: EngineName, request: (s: Seed) => { path: string; headers: Record<string, string> }): Target[] {
  return [
    {
      name: 'fastify-bare',
      notes: `Fastify + ${engine === 'sqlite' ? 'better-sqlite3' : 'pg'} directly: the same two queries, no token check, no logging`,
      skip: () => unavailable(engine),
      start: async () => {
        const s = await seed(engine)
        return spawnServer({ args: [path.join(ROOT, 'bench/servers/fastify-records.mjs'), engine, s.dbUrl, s.userId, '{port}'] })
      },
      request: async () => request(await seed(engine)),
    },
    {
      name: 'plinth',
      notes: `plinth serve on ${engine}, PLINTH_LOG_LEVEL=warn (no per-request log lines; see the health scenario for their cost)`,
      skip: () => unavailable(engine),
      start: async () => startPlinth({ PLINTH_DB: (await seed(engine)).dbUrl, PLINTH_LOG_LEVEL: 'warn' }),
      request: async () => request(await seed(engine)),
    },
  ]
}

let parse: ParsePeer | undefined
const parseTarget: Target = {
  name: 'parse-server',
  notes: 'Parse Server 9 on the same PostgreSQL server (its own database): GET /classes/Post/:id with a session token, owner-only ACL',
  skip: () => unavailable('postgres'),
  async start(): Promise<RunningServer> {
    const db = await createTestDb('postgres')
    parse = await startParsePeer(db.url, await freePort())
    const peer = parse
    return { url: peer.url.replace(/\/parse$/, ''), stop: async () => { await peer.stop(); await db.drop() } }
  },
  request: () => ({ path: `/parse/classes/Post/${parse!.objectId}`, headers: parse!.headers }),
}

export default [
  { name: 'records-view-sqlite', description: 'GET one record by id as its owner (owner rule), SQLite', reference: 'fastify-bare', targets: targets('sqlite', view) },
  { name: 'records-list-sqlite', description: 'GET 30 records, filter published = true, owner rule, with totals, SQLite', reference: 'fastify-bare', targets: targets('sqlite', list) },
  { name: 'records-view-postgres', description: 'GET one record by id as its owner (owner rule), PostgreSQL; Parse Server 9 as the peer', reference: 'fastify-bare', targets: [...targets('postgres', view), parseTarget] },
  { name: 'records-list-postgres', description: 'GET 30 records, filter published = true, owner rule, with totals, PostgreSQL', reference: 'fastify-bare', targets: targets('postgres', list) },
] satisfies Scenario[]
