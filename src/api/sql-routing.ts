import { AsyncResource } from 'node:async_hooks'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Counters } from '../counters/counters.ts'
import type { Logger } from '../log.ts'
import { runForClient, type ClientReads } from '../sql/client-reads.ts'
import type { SqlRouter } from '../sql/router.ts'
import '../auth/request.ts'

export interface SqlRoutingOptions {
  sql: SqlRouter
  counters: Counters
  log: Logger
  /** The replica lag bound (ms): a recorded position outlives it many times over. */
  maxReplicaLag: number
}

const scope = Symbol('plinth.sqlClientScope')
const client = Symbol('plinth.sqlClient')
type Scoped = FastifyRequest & { [scope]?: AsyncResource; [client]?: ClientReads }

/**
 * Read-your-writes across nodes, for a router with replicas. A signed-in client's last write is
 * remembered as the primary's replication position right after it (PostgreSQL's WAL LSN,
 * MariaDB's GTID), kept in the counters port under the client's auth record; each of its later
 * requests, on any node, reads that position first, and the router sends its reads only to a
 * replica that has applied it (else to the primary).
 *
 * Why the counters port rather than a header or cookie the client echoes: nginx may send the next
 * request to any node, the counters port is what every node already shares (Redis), and clients
 * need no change (PocketBase's SDKs would not echo a custom header). What it costs: one counters
 * read per signed-in request and, after a write, one position query plus one counters write
 * before the response leaves, so the position is stored before the client can send its next read.
 * Guests are not tracked (nothing identifies them across requests): within one request their reads
 * still follow their writes, across requests they read a replica within `dbMaxReplicaLag`.
 *
 * Installed only when replicas exist: the AsyncLocalStorage it uses costs every promise.
 */
export function installSqlRouting(http: FastifyInstance, opts: SqlRoutingOptions): void {
  const { sql, counters, log } = opts
  const ttl = Math.max(60_000, opts.maxReplicaLag * 10)
  const keyOf = (request: FastifyRequest) => (request.auth ? `sql:pos:${request.auth.collection.id}:${request.auth.record.id}` : undefined)

  http.addHook('onRequest', (request: Scoped, _reply, done) => {
    const reads: ClientReads = { minPosition: 0, wrote: false }
    request[client] = reads
    runForClient(reads, () => {
      // Body parsing continues in the socket's context; the handler is brought back into this one.
      request[scope] = new AsyncResource('plinth.sql-client')
      done()
    })
  })
  http.addHook('preValidation', (request: Scoped, _reply, done) => {
    const r = request[scope]
    if (r) r.runInAsyncScope(done)
    else done()
  })
  http.addHook('preHandler', async (request: Scoped) => {
    const key = keyOf(request)
    const reads = request[client]
    if (!key || !reads) return
    try {
      reads.minPosition = (await counters.get(key))?.count || 0
    } catch (err) {
      // Without the client's position, only the primary is sure to hold its writes.
      reads.wrote = true
      log.warn({ err }, 'read-your-writes: the client position could not be read; reading from the primary')
    }
  })
  http.addHook('onSend', async (request: Scoped) => {
    const key = keyOf(request)
    if (!key || !request[client]?.wrote) return
    try {
      const pos = await sql.primaryPosition()
      if (pos !== undefined) await counters.raise(key, pos, ttl)
    } catch (err) {
      // The write is committed; only its visibility to this client's next reads elsewhere is at stake.
      log.warn({ err }, 'read-your-writes: the position after a write could not be stored')
    }
  })
}
