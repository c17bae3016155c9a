/**
 * What a benchmark scenario is. A scenario is one file in `bench/scenarios/` whose default export
 * is a `Scenario`: a set of targets (Plinth on some engine, bare references, peer servers) that
 * answer the same kind of request, one of which is the reference the others are compared to.
 */

/** A server started for the bench, in its own process. */
export interface RunningServer {
  /** Base URL on 127.0.0.1, no trailing slash. */
  url: string
  /** Its process id (for memory figures read from /proc). */
  pid?: number
  stop(): Promise<void>
}

/** One request shape autocannon repeats. */
export interface BenchRequest {
  path: string
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  headers?: Record<string, string>
  body?: string
  /** Replace each `[<id>]` in the body with a new id per request, for creates of unique values (bench/lib/autocannon-unique.mjs). */
  uniqueIds?: boolean
  /** Sign each GET with this key and a fresh nonce (RFC 9421, bench/lib/autocannon-signed.mjs): a session key, or a device key's private half (PEM). */
  signWith?: { keyid: string; alg: 'hmac-sha256'; secret: string } | { keyid: string; alg: 'ecdsa-p256-sha256' | 'ed25519'; privateKeyPem: string } | 'unsigned-control'
}

export interface Target {
  /** A figure published elsewhere (another project's own benchmark), shown beside the measured ones instead of being run. */
  published?: undefined
  /** Unique within the scenario; shown in the table. */
  name: string
  /** What this target is, for BENCHMARKS.md readers (engine, logging, version). */
  notes?: string
  /** Starts the server (and seeds it); resolves once it answers. */
  start(): Promise<RunningServer>
  /** The request to repeat; may depend on what `start` seeded, hence the server. */
  request(server: RunningServer): BenchRequest | Promise<BenchRequest>
  /** Why this target cannot run here (a missing server, say); the bench prints it and goes on. */
  skip?(): Promise<string | undefined>
}

/** A figure someone else published, not measured here: the bench shows it and divides by it. */
export interface PublishedTarget {
  name: string
  notes?: string
  published: { requestsPerSec: number }
}

export interface Scenario {
  name: string
  /** A name several scenarios share, so `npm run bench -- GROUP` runs them all (`pb-sqlite`). */
  group?: string
  description: string
  /** Connections for this scenario whatever `--connections` says (a peer's published figure was measured at this concurrency). */
  connections?: number
  /** Requests per round for this scenario instead of `--duration` (as the peer's published figure was measured). */
  amount?: number
  /** The name of the target the others are divided by. */
  reference: string
  targets: (Target | PublishedTarget)[]
}

/** One figure a self-measuring scenario reports: a row of its table. */
export interface Figure {
  /** Unique within the scenario; shown in the table. */
  name: string
  value: number
  /** `ms`, `bytes`, `MiB`... */
  unit: string
  /** The name of the figure (same scenario) this one is divided by, for the ratio column. */
  reference?: string
  notes?: string
}

/**
 * A scenario that measures itself instead of being loaded by autocannon (realtime streams: the
 * load is open connections and pushed events, not request rates). It starts and stops its own
 * servers, returns its figures, and says why it cannot run here through `skip`.
 */
export interface MeasuredScenario {
  name: string
  group?: string
  description: string
  skip?(): Promise<string | undefined>
  measure(): Promise<Figure[]>
}

export interface LoadOptions {
  connections: number
  /** Send exactly this many requests (instead of for `durationSec`); requests/s = amount / wall time. */
  amount?: number
  durationSec: number
  warmupSec: number
}

export interface LoadResult {
  requestsPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  requests: number
  non2xx: number
  errors: number
  timeouts: number
}
