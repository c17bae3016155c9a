// The reference for the feed scenarios (10,000 articles): bare Fastify running the same SQL Plinth
// runs: load the auth record by id, then a page of 20 newest first (and the count, unless
// skipTotal), one article and its owner for `expand=owner`, or, for auth-refresh, a new token
// signed with node:crypto (HMAC-SHA256, what issuing one costs bare). No token check, no rules
// engine, no JSON shaping beyond the rows.
// Usage: node bench/servers/fastify-feed.mjs ENGINE DB_URL USER_ID PORT
import { createHmac } from 'node:crypto'
import Fastify from 'fastify'
import { listen, openDb } from './db.mjs'

const [engine, dbUrl, userId, port] = process.argv.slice(2)
const app = Fastify({ logger: false })
const { query } = await openDb(engine, dbUrl)
const auth = async () => (await query('select * from users where id = $1', [userId]))[0]

app.get('/api/collections/articles/records', async (request, reply) => {
  const user = await auth()
  if (!user) return reply.code(401).send({})
  const page = query('select * from articles order by created desc limit 20 offset 0')
  if (request.query.skipTotal === '1') return { page: 1, perPage: 20, totalItems: -1, totalPages: -1, items: await page }
  const [items, [count]] = await Promise.all([page, query('select count(*) as n from articles')])
  const total = Number(count.n)
  return { page: 1, perPage: 20, totalItems: total, totalPages: Math.ceil(total / 20), items }
})

app.get('/api/collections/articles/records/:id', async (request, reply) => {
  const user = await auth()
  if (!user) return reply.code(401).send({})
  const [row] = await query('select * from articles where id = $1', [request.params.id])
  if (!row) return reply.code(404).send({})
  // The users collection's viewRule (`id = @request.auth.id`) as Plinth applies it to the expand.
  const [owner] = await query('select * from users where id = $1 and id = $2', [row.owner, user.id])
  return owner ? { ...row, expand: { owner } } : row
})

const secret = 'bench-secret'
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url')
app.post('/api/collections/users/auth-refresh', async (request, reply) => {
  const user = await auth()
  if (!user) return reply.code(401).send({})
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ type: 'auth', id: user.id, collectionId: '_pb_users_auth_', refreshable: true, exp: Math.floor(Date.now() / 1000) + 604800 })}`
  const token = `${unsigned}.${createHmac('sha256', secret + user.tokenKey).update(unsigned).digest('base64url')}`
  return { token, record: user }
})

await listen(app, port)
