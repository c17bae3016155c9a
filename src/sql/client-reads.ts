import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * What the SQL router must know about the client a piece of work runs for, so that the client
 * reads its own writes: the replication position its last write reached (from any node, see
 * api/sql-routing.ts), and whether it wrote during this very request.
 */
export interface ClientReads {
  /** A replica may serve this client's reads once it has applied this position (0: any replica). */
  minPosition: number
  /** True once this request committed a write: its later reads go to the primary. */
  wrote: boolean
}

const store = new AsyncLocalStorage<ClientReads>()

/**
 * Runs `fn` (and everything it starts) as work for one client. Only used when replicas are
 * configured: an AsyncLocalStorage in use costs every promise the process makes.
 */
export function runForClient<T>(client: ClientReads, fn: () => T): T {
  return store.run(client, fn)
}

/** The client the current work runs for; undefined outside a request (jobs, realtime fan-out). */
export function currentClient(): ClientReads | undefined {
  return store.getStore()
}
