// The reference for the health scenario: a bare Fastify server (no logging, no hooks) answering
// GET /api/health with the same body as Plinth. Plain JavaScript, so no tsx loader is involved.
// Usage: node bench/servers/fastify-health.mjs PORT
import Fastify from 'fastify'

const port = Number(process.argv[2])
const app = Fastify({ logger: false })
const healthy = { code: 200, message: 'API is healthy.', data: {} }
app.get('/api/health', async () => healthy)
await app.listen({ host: '127.0.0.1', port })
const stop = () => app.close().then(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
