// The reference for the records scenarios: bare Fastify running the SAME SQL Plinth runs for an
// authenticated request (load the auth record by id, then the rule-filtered query), with the
// driver used directly: no token check, no rules engine, no JSON shaping beyond the rows.
// Usage: node bench/servers/fastify-records.mjs ENGINE DB_URL USER_ID PORT
import Fastify from 'fastify'

const [engine, dbUrl, userId, port] = process.argv.slice(2)
const app = Fastify({ logger: false })
let query
if (engine === 'sqlite') {
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(dbUrl.replace(/^sqlite:\/\//, ''))
  db.pragma('journal_mode = WAL')
  const cache = new Map()
  query = async (text, params) => {
    let stmt = cache.get(text)
    if (!stmt) cache.set(text, (stmt = db.prepare(text.replace(/\$\d+/g, '?'))))
    return stmt.all(...params)
  }
} else {
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: dbUrl, max: 10 })
  query = async (text, params) => (await pool.query(text, params)).rows
}
const published = engine === 'sqlite' ? 1 : true

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

app.get('/api/health', async () => ({ code: 200 }))
await app.listen({ host: '127.0.0.1', port: Number(port) })
const stop = () => app.close().then(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
