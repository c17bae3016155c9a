import type { Bus, Unsubscribe } from '../../bus/bus.ts'

/**
 * Keeps the collections of every node on one schema version: after a change committed here the
 * new version is published on the bus; a node that hears a version other than its own reloads.
 * The bus is at most once (a node cut off from Redis misses messages), so every node also reads
 * the stored version on a timer and reloads when it differs: a missed message costs at most one
 * interval, and without any bus between them (two processes on one SQLite file) nodes still converge.
 */

/** The bus topic for schema changes; the message is the new schema version. */
export const COLLECTIONS_TOPIC = 'plinth:collections'

/** What sync needs of the store (`CollectionStore` has it). */
export interface SyncedStore {
  /** The version loaded on this node. */
  readonly version: string
  /** The version stored in the database now. */
  storedVersion(): Promise<string>
  reload(): Promise<void>
  /** Calls `listener` with the new version after each change committed on this node. */
  addChangeListener(listener: (version: string) => void): () => void
}

export interface SyncLog {
  info(obj: Record<string, unknown>, msg: string): void
  warn(obj: Record<string, unknown>, msg: string): void
}

export interface SyncOptions {
  /** How often to read the stored version, in ms (default 5000); 0 turns the timer off. */
  intervalMs?: number
  /** Default `COLLECTIONS_TOPIC`; tests sharing one Redis use their own. */
  topic?: string
  /** What is synced, in log lines: default `collections` (with `schema change`); the settings use it too. */
  label?: { name: string; change: string }
}

/** Default `intervalMs`: how long a node that missed a bus message may serve the old schema. */
export const DEFAULT_SYNC_INTERVAL_MS = 5000

/**
 * Starts syncing `store` over `bus`; resolves once the subscription is active, with the function
 * that stops it (unsubscribes, stops the timer; harmless to call twice). Neither a failed publish
 * (Redis down) nor a failed reload (database down) is thrown: both are logged and the timer
 * catches up later.
 */
export async function syncCollections(store: SyncedStore, bus: Bus, log: SyncLog, opts: SyncOptions = {}): Promise<() => Promise<void>> {
  const topic = opts.topic ?? COLLECTIONS_TOPIC
  const intervalMs = opts.intervalMs ?? DEFAULT_SYNC_INTERVAL_MS
  const { name, change } = opts.label ?? { name: 'collections', change: 'schema change' }
  let stopped = false

  // Reloads under way, so `stop` can wait for them rather than let them read a closed database.
  const running = new Set<Promise<void>>()
  const reload = async (why: string, version: string) => {
    if (stopped || version === store.version) return
    const from = store.version
    const done = store.reload().then(
      () => log.info({ from, to: store.version, why }, `${name}: reloaded for a ${change} on another node`),
      (err: unknown) => log.warn({ err: (err as Error).message, why }, `${name}: reload failed, retried on the next check`),
    )
    running.add(done)
    await done
    running.delete(done)
  }

  const unsubscribe: Unsubscribe = await bus.subscribe(topic, (message) => reload('bus', message))
  const removeListener = store.addChangeListener((version) => {
    bus.publish(topic, version).catch((err: unknown) => {
      log.warn({ err: (err as Error).message, version }, `${name}: ${change} not published; other nodes catch up on their next check`)
    })
  })

  // One check at a time: a slow database must not pile up reads. `stop` waits for the one running,
  // so it never reads from a database the caller is about to close.
  let checking: Promise<void> | undefined
  const check = () => {
    if (checking || stopped) return
    checking = (async () => {
      try {
        await reload('timer', await store.storedVersion())
      } catch (err) {
        log.warn({ err: (err as Error).message }, `${name}: reading the stored version failed`)
      } finally {
        checking = undefined
      }
    })()
  }
  const timer = intervalMs > 0 ? setInterval(check, intervalMs) : undefined
  // NB: the timer must not keep a process alive that is otherwise done.
  timer?.unref()
  // A change made elsewhere between the store's first load and the subscription sent its message
  // to nobody here: look once now rather than a whole interval later.
  check()

  return async () => {
    if (stopped) return
    stopped = true
    if (timer) clearInterval(timer)
    removeListener()
    await unsubscribe()
    await checking
    await Promise.all(running)
  }
}
