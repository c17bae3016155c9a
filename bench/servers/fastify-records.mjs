// The reference for the records scenarios: bare Fastify running the SAME SQL Plinth runs for an
// authenticated request (load the auth record by id, then the rule-filtered query), with the
// driver used directly: no token check, no rules engine, no JSON shaping beyond the rows.
// Usage: node bench/servers/fastify-records.mjs ENGINE DB_URL USER_ID PORT
import Fastify from 'fastify'
import { listen, openDb } from './db.mjs'

const [engine, dbUrl, userId, port] = process.argv.slice(2)
const app = Fastify({ logger: false })
const { query } = await openDb(engine, dbUrl)
const published = engine === 'postgres' ? true : 1

app.get('/api/collections/posts/records/:id', async (request, reply) => {
  const [auth] = await query('select * from users where id = $1', [userId])
  if (!auth) return reply.code(401).send({})
  const [row] = await query('select * from posts where id = $1 and owner = $2', [request.params.id, auth.id])
  if (!row) return reply.code(404).send({})
  return row
})

app.get('/api/collections/posts/records', async (request, reply) => {
  const [auth] = await query('select * from users where id = $1', [userId])
  if (!auth) return reply.code(401).send({})
  const [[count], items] = await Promise.all([
    query('select count(*) as n from posts where published = $1 and owner = $2', [published, auth.id]),
    query('select * from posts where published = $1 and owner = $2 order by _rowid_ asc limit 30 offset 0', [published, auth.id]),
  ])
  const total = Number(count.n)
  return { page: 1, perPage: 30, totalItems: total, totalPages: Math.ceil(total / 30), items }
})

await listen(app, port)
