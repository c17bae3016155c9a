import { Type, TypeGuard, type Static } from '@sinclair/typebox'

/**
 * Plinth's configuration: one URL per port (its scheme picks the engine) plus a few HTTP knobs.
 * Only ports that have a finished engine are accepted; anything else is an unknown key and stops
 * start-up, so a setting never silently does nothing.
 */
export const ConfigSchema = Type.Object(
  {
    /** Where the HTTP server listens, `HOST:PORT`. */
    http: Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]*):[0-9]{1,5}$', description: 'HOST:PORT, like 127.0.0.1:8090' }),
    /** The data folder: SQLite database, local files, generated keys. */
    dir: Type.String({ minLength: 1 }),
    /** The SQL primary: `sqlite://PATH`, `postgres://...` or `mysql://...` (MariaDB too). */
    db: Type.String({ minLength: 1 }),
    /** Read replicas of `db` (same engine, PostgreSQL or MySQL/MariaDB): reads are spread over them (sql/router.ts). */
    dbReplicas: Type.Array(Type.String({ minLength: 1 })),
    /** The disaster-recovery instance: watched (`plinth db status`), never read from until promoted and switched to. Empty: none. */
    dbDr: Type.String(),
    /** Replicas lagging more than this many ms behind the primary get no reads. */
    dbMaxReplicaLag: Type.Integer({ minimum: 1 }),
    /** The largest request body accepted, in bytes; bigger bodies get 413. */
    bodyLimit: Type.Integer({ minimum: 1024 }),
    /** Trust `X-Forwarded-*` from these proxies (true = any, or a comma list of IPs/CIDRs). */
    trustProxy: Type.Union([Type.Boolean(), Type.String({ minLength: 1 })]),
    /** How long a graceful stop waits for in-flight requests, in milliseconds. */
    shutdownTimeout: Type.Integer({ minimum: 0 }),
    /**
     * The longest one SQL statement may run, in milliseconds (0 = no limit); over it the statement
     * is cancelled and the request answers 503. PostgreSQL `statement_timeout`, MariaDB
     * `max_statement_time`, MySQL `max_execution_time` (SELECT only). SQLite cannot cancel a statement.
     */
    statementTimeout: Type.Integer({ minimum: 0 }),
    /** How long a request waits for a free database connection (SQLite: for the write lock), in ms; then 503. */
    poolTimeout: Type.Integer({ minimum: 1 }),
    /** Connections per server database (PostgreSQL, MySQL). */
    poolSize: Type.Integer({ minimum: 1, maximum: 1000 }),
    /** How long a client may take to send a request's headers, in ms (then 408 and the connection closes). */
    headersTimeout: Type.Integer({ minimum: 1 }),
    /** How long a client may take to send a whole request, body included, in ms (then 408 and close). */
    requestTimeout: Type.Integer({ minimum: 1 }),
    /** How long an idle keep-alive connection stays open between requests, in ms. */
    keepAliveTimeout: Type.Integer({ minimum: 1 }),
    /**
     * The public base URL clients reach this server at (links in mails point here), e.g.
     * `https://api.example.com`. Empty = `http://` + the `http` address.
     */
    publicUrl: Type.Union([Type.Literal(''), Type.String({ pattern: '^https?://[^\\s/]+(/.*)?$', description: 'an http(s) URL' })]),
    /** Outgoing mail: `log://` (written to the log, the default), `smtp://USER:PASS@HOST:PORT?from=...` or `smtps://...`. */
    mail: Type.String({ minLength: 1 }),
    /**
     * One Redis for every shared-state port: `redis://[user:pass@]HOST:PORT/DB[?prefix=app:]` (or
     * `rediss://` for TLS) puts cache, counters and bus on it, unless `cache`, `counters` or `bus`
     * says otherwise. Empty (the default): all three run in this process.
     */
    redis: Type.Union([Type.Literal(''), Type.String({ pattern: '^rediss?://', description: 'a redis:// URL' })]),
    /** The cache: `memory://` (in-process LRU, `?maxBytes=N`, default 64 MiB) or `redis://...`. Default: `redis`, else `memory://`. */
    cache: Type.String({ minLength: 1 }),
    /** Counters (rate limits, nonces): `memory://` (`?maxKeys=N`, default 100 000) or `redis://...`. Default: `redis`, else `memory://`. */
    counters: Type.String({ minLength: 1 }),
    /** The bus (pub/sub between nodes): `memory://` or `redis://...`. Default: `redis`, else `memory://`. */
    bus: Type.String({ minLength: 1 }),
    /**
     * The job queue: `sql://` (the default: a table in the `db` database, so jobs survive a restart)
     * or `redis://...` (BullMQ). Both take `?leaseMs=N` (how long a worker's claim on a job lasts
     * without renewal; default 30 000) and `sql://` also `?pollMs=N` (default 1000). Never follows
     * `redis`: moving jobs onto Redis changes their durability, so it is set on its own.
     */
    queue: Type.String({ minLength: 1 }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    ),
    /**
     * How log lines look: `json` (one JSON object a line, for collectors) or `pretty` (for people).
     * Default: `pretty` when stdout is a terminal, else `json`.
     */
    logFormat: Type.Union([Type.Literal('json'), Type.Literal('pretty')]),
    metrics: Type.Object(
      {
        /** IPs or CIDRs that may read `/api/metrics` without a superuser token. Empty by default. */
        allow: Type.Array(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    /** Brute-force limits on password checks (auth-with-password, confirm-email-change). */
    authThrottle: Type.Object(
      {
        /** Failed attempts per identity (collection + lowercased identity) per window; 0 = no limit. */
        perIdentity: Type.Integer({ minimum: 0 }),
        /** Failed attempts per client address (IPv6: per /64) per window; 0 = no limit. */
        perIp: Type.Integer({ minimum: 0 }),
        /** The window in seconds; a locked client gets 429 with Retry-After until it ends. */
        windowSeconds: Type.Integer({ minimum: 1, maximum: 86400 }),
      },
      { additionalProperties: false },
    ),
    /** Realtime (SSE) streams. */
    realtime: Type.Object(
      {
        /** ms a stream may go without an event before it is closed (the SDKs reconnect); PocketBase's 5 minutes. */
        idleTimeout: Type.Integer({ minimum: 1000 }),
        /** Bytes a client may leave unread in its stream before it is cut (its send queue's bound). */
        maxQueueBytes: Type.Integer({ minimum: 1024 }),
      },
      { additionalProperties: false },
    ),
    cors: Type.Object(
      {
        /**
         * Origins whose browsers may call the API (CORS), like `https://app.example.com`, or `*` for
         * any (the default, as in PocketBase). Preflight requests are answered for these only.
         */
        origins: Type.Array(Type.String({ pattern: '^(\\*|https?://[^\\s/]+)$', description: '* or an origin like https://app.example.com' }), { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)

export type PlinthConfig = Static<typeof ConfigSchema>

/** What a config file may contain: every key optional, nothing unknown. */
/**
 * What a file, the environment or flags may give: any subset, at every level (layers are merged
 * deeply, so `authThrottle.perIp` alone keeps the other `authThrottle` keys).
 */
export const ConfigFileSchema = Type.Partial(
  Type.Object(
    Object.fromEntries(
      Object.entries(ConfigSchema.properties).map(([k, v]) => [k, TypeGuard.IsObject(v) ? Type.Partial(v, { additionalProperties: false }) : v]),
    ) as typeof ConfigSchema.properties,
  ),
  { additionalProperties: false },
)
export type ConfigInput = Static<typeof ConfigFileSchema>

/** The config keys holding a port's URL that `redis` sets when they are not set themselves. */
export const redisPortKeys = ['cache', 'counters', 'bus'] as const

/** The environment variable that sets `key` (for messages and the port list). */
export function envVarOf(key: string): string | undefined {
  return Object.entries(envKeys).find(([, k]) => k === key)?.[0]
}

/** Environment variables, each mapped to a config key; `<NAME>_FILE` reads the value from a file. */
export const envKeys = {
  PLINTH_HTTP: 'http',
  PLINTH_DIR: 'dir',
  PLINTH_DB: 'db',
  PLINTH_DB_REPLICAS: 'dbReplicas',
  PLINTH_DB_DR: 'dbDr',
  PLINTH_DB_MAX_REPLICA_LAG: 'dbMaxReplicaLag',
  PLINTH_BODY_LIMIT: 'bodyLimit',
  PLINTH_TRUST_PROXY: 'trustProxy',
  PLINTH_SHUTDOWN_TIMEOUT: 'shutdownTimeout',
  PLINTH_LOG_LEVEL: 'logLevel',
  PLINTH_LOG_FORMAT: 'logFormat',
  PLINTH_MAIL: 'mail',
  PLINTH_REDIS: 'redis',
  PLINTH_CACHE: 'cache',
  PLINTH_COUNTERS: 'counters',
  PLINTH_BUS: 'bus',
  PLINTH_QUEUE: 'queue',
  PLINTH_PUBLIC_URL: 'publicUrl',
  PLINTH_METRICS_ALLOW: 'metrics.allow',
  PLINTH_STATEMENT_TIMEOUT: 'statementTimeout',
  PLINTH_POOL_TIMEOUT: 'poolTimeout',
  PLINTH_POOL_SIZE: 'poolSize',
  PLINTH_HEADERS_TIMEOUT: 'headersTimeout',
  PLINTH_REQUEST_TIMEOUT: 'requestTimeout',
  PLINTH_KEEP_ALIVE_TIMEOUT: 'keepAliveTimeout',
  PLINTH_CORS_ORIGINS: 'cors.origins',
  PLINTH_AUTH_THROTTLE_PER_IDENTITY: 'authThrottle.perIdentity',
  PLINTH_AUTH_THROTTLE_PER_IP: 'authThrottle.perIp',
  PLINTH_AUTH_THROTTLE_WINDOW_SECONDS: 'authThrottle.windowSeconds',
  PLINTH_REALTIME_IDLE_TIMEOUT: 'realtime.idleTimeout',
  PLINTH_REALTIME_MAX_QUEUE_BYTES: 'realtime.maxQueueBytes',
} as const satisfies Record<string, string>

/**
 * `PLINTH_*` variables that belong to tooling (tests, CI, the bench), not to a running server.
 * Any other unknown `PLINTH_*` variable is an error, so a typo is never ignored.
 */
export const toolingEnvKeys = new Set(['PLINTH_REQUIRE_SERVICES', 'PLINTH_TEST_PG', 'PLINTH_TEST_MYSQL', 'PLINTH_TEST_REDIS'])

/**
 * The embedded defaults for a data folder `dir` (absolute, or relative to the working directory:
 * the loader resolves it first). The SQLite file lives in it; cache, counters and bus run in
 * this process unless `redis` is set (the loader applies that). Logs are `pretty` for a terminal
 * (`tty`), else `json`.
 */
export function defaults(dir: string, tty = false): PlinthConfig {
  return {
    http: '127.0.0.1:8090',
    dir,
    db: `sqlite://${dir.replace(/\/+$/, '')}/data.db`,
    dbReplicas: [],
    dbDr: '',
    dbMaxReplicaLag: 1000,
    bodyLimit: 32 * 1024 * 1024,
    trustProxy: false,
    shutdownTimeout: 10_000,
    statementTimeout: 10_000,
    poolTimeout: 5_000,
    poolSize: 10,
    headersTimeout: 10_000,
    requestTimeout: 120_000,
    // Longer than the idle timeout of the proxy in front (nginx upstream keepalive and AWS ALB: 60 s),
    // so the proxy never reuses a connection this server is closing (a 502). Fastify's default.
    keepAliveTimeout: 72_000,
    logLevel: 'info',
    logFormat: tty ? 'pretty' : 'json',
    mail: 'log://',
    redis: '',
    cache: 'memory://',
    counters: 'memory://',
    bus: 'memory://',
    queue: 'sql://',
    publicUrl: '',
    metrics: { allow: [] },
    authThrottle: { perIdentity: 5, perIp: 100, windowSeconds: 900 },
    realtime: { idleTimeout: 5 * 60_000, maxQueueBytes: 1 << 20 },
    cors: { origins: ['*'] },
  }
}
