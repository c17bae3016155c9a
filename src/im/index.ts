import type { FastifyInstance } from 'fastify'
import { findRowByToken } from '../auth/records.ts'
import { SUPERUSERS } from '../auth/authenticate.ts'
import type { Core } from '../core.ts'
import { rowToRecord } from '../records/fields/index.ts'
import { Im, type VerifyToken } from './hub.ts'
import { imRoutes } from './routes.ts'
import { serveIm } from './server.ts'
import { ImStore } from './store.ts'

export { Im } from './hub.ts'
export type { ImHooks, ImBeforeStoreEvent, ImDeliveredEvent } from './hooks.ts'

/**
 * Starts IM on this node and, when `im.enabled`, serves `/api/plinth/im` (WebSocket, on the
 * HTTP server's upgrade event) and its REST routes. The hub exists either way, so app code can
 * add hooks unconditionally.
 */
export async function mountIm(http: FastifyInstance, core: Core): Promise<Im> {
  const { config, collections, sql } = core
  // Uncached: a revoked token must fail at once (auth/auth-cache.ts may still hold it for a moment).
  const verifyToken: VerifyToken = async (token) => {
    const match = await findRowByToken({ registry: collections, db: sql.freshest().db }, token, 'auth')
    if (!match) return null
    const auth = Object.freeze({ collection: match.collection, record: Object.freeze(rowToRecord(match.collection, match.row)), isSuperuser: match.collection.name === SUPERUSERS })
    return { auth, exp: match.claims.exp }
  }
  const im = await Im.start({ config: config.im, files: core.files, registry: collections, store: new ImStore(core.records, sql, config.im), bus: core.bus, counters: core.counters, log: core.log, verifyToken })
  if (!config.im.enabled) {
    http.addHook('preClose', () => im.close())
    return im
  }
  const origins = config.im.origins.length > 0 ? config.im.origins : config.cors.origins
  const stop = serveIm(http.server, im, { origins, maxPayload: config.im.maxMessageBytes + 4096 })
  await http.register(imRoutes, { im, stop })
  return im
}
