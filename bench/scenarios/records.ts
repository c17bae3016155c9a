/**
 * Records as a logged-in user under an owner rule (`owner = @request.auth.id`), PocketBase's
 * everyday read path: view one record by id, and a filtered list of 30 (with totals). Each on
 * SQLite, PostgreSQL and MariaDB, against bare Fastify running the same SQL on the same database
 * in the same run; on PostgreSQL also Parse Server 9 doing the same authenticated view (ACL).
 */
import { createTestDb } from '../../test/helpers/engines.ts'
import { startParsePeer, type ParsePeer } from '../peers/parse-server.ts'
import { ALL_ENGINES, asAdmin, createUsers, ENGINE_LABEL, ENGINE_NAME, filler, freshDb, once, unavailable, USERS_ID, type Engine } from '../lib/seed.ts'
import { freePort } from '../lib/servers.ts'
import { bareAndPlinth } from '../lib/targets.ts'
import type { RunningServer, Scenario, Target } from '../lib/types.ts'

interface Seed {
  dbUrl: string
  token: string
  userId: string
  postId: string
}

const POSTS_PER_USER = 300

/** A database with two users and their posts, made once per engine through Plinth's own API. */
export const seed = once(async (engine: Engine): Promise<Seed> => {
  const dbUrl = await freshDb(engine)
  return asAdmin(dbUrl, async (admin) => {
    const owner = 'owner = @request.auth.id'
    await admin.call('POST', '/api/collections', {
      name: 'posts',
      listRule: owner,
      viewRule: owner,
      fields: [
        { name: 'title', type: 'text' },
        { name: 'body', type: 'text' },
        { name: 'published', type: 'bool' },
        { name: 'owner', type: 'relation', collectionId: USERS_ID, maxSelect: 1 },
        { name: 'created', type: 'autodate', onCreate: true },
      ],
      indexes: ['CREATE INDEX idx_posts_owner ON posts (owner, published)'],
    })
    const { ids, first } = await createUsers(admin, ['ann', 'bob'])
    const posts = ids.flatMap((owner) =>
      Array.from({ length: POSTS_PER_USER }, (_, i) => ({ title: `post ${i}`, body: filler(200), published: i % 2 === 0, owner })),
    )
    const [postId] = await admin.createMany('posts', posts)
    return { dbUrl, token: first.token, userId: first.id, postId: postId! }
  })
})

const view = (s: Seed) => ({ path: `/api/collections/posts/records/${s.postId}`, headers: { authorization: s.token } })
const list = (s: Seed) => ({ path: `/api/collections/posts/records?perPage=30&filter=${encodeURIComponent('published = true')}`, headers: { authorization: s.token } })

function targets(engine: Engine, request: (s: Seed) => { path: string; headers: Record<string, string> }): Target[] {
  return bareAndPlinth({ engine, seed, server: 'fastify-records.mjs', args: (s) => [s.userId], does: 'the same two queries', request })
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

export default ALL_ENGINES.flatMap((engine) => [
  {
    name: `records-view-${ENGINE_LABEL[engine]}`,
    description: `GET one record by id as its owner (owner rule), ${ENGINE_NAME[engine]}${engine === 'postgres' ? '; Parse Server 9 as the peer' : ''}`,
    reference: 'fastify-bare',
    targets: [...targets(engine, view), ...(engine === 'postgres' ? [parseTarget] : [])],
  },
  {
    name: `records-list-${ENGINE_LABEL[engine]}`,
    description: `GET 30 records, filter published = true, owner rule, with totals, ${ENGINE_NAME[engine]}`,
    reference: 'fastify-bare',
    targets: targets(engine, list),
  },
]) satisfies Scenario[]
