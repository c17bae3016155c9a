// The reference for the writes scenarios: bare Fastify doing what a hand-written route would for
// the same request: load the auth record by id (as Plinth does from the token), check the owner
// in JavaScript, then the INSERT (create) or the owner-filtered UPDATE (update), and read the row
// back to answer it. No transaction, no token check, no validation beyond the owner.
// Usage: node bench/servers/fastify-writes.mjs ENGINE DB_URL USER_ID PORT
import { randomInt } from 'node:crypto'
import Fastify from 'fastify'
import { listen, openDb } from './db.mjs'

const [engine, dbUrl, userId, port] = process.argv.slice(2)
const app = Fastify({ logger: false })
const { query, run } = await openDb(engine, dbUrl)

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const newId = () => Array.from({ length: 15 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('')
const now = () => new Date().toISOString().replace('T', ' ')

app.post('/api/collections/notes/records', async (request, reply) => {
  const [auth] = await query('select * from users where id = $1', [userId])
  const { title = '', body = '', owner = '' } = request.body
  if (!auth || owner !== auth.id) return reply.code(400).send({})
  const id = newId()
  const at = now()
  await run('insert into notes (id, title, body, owner, created, updated) values ($1, $2, $3, $4, $5, $6)', [id, title, body, owner, at, at])
  const [row] = await query('select * from notes where id = $1', [id])
  return row
})

app.patch('/api/collections/notes/records/:id', async (request, reply) => {
  const [auth] = await query('select * from users where id = $1', [userId])
  if (!auth) return reply.code(401).send({})
  await run('update notes set title = $1, updated = $2 where id = $3 and owner = $4', [request.body.title, now(), request.params.id, auth.id])
  const [row] = await query('select * from notes where id = $1 and owner = $2', [request.params.id, auth.id])
  if (!row) return reply.code(404).send({})
  return row
})

await listen(app, port)
