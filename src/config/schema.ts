import { Type, TypeGuard, type Static } from '@sinclair/typebox'
import { IM_DEFAULTS, ImConfigSchema } from './im.ts'

/** PocketBase's rate limit label forms: `METHOD /path`, `/path`, `name:action`, `*:action`, a plain tag. */
export const RATE_LIMIT_LABEL = '^([A-Z]+ /[\\w/.-]*|/[\\w/.-]*|\\w+:\\w+|\\*:\\w+|\\w+)$'
const SignatureMode = Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')])

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
     * Behind a load balancer: how long a stopping node keeps serving before it stops listening, in
     * milliseconds (0 = stop at once). Meanwhile `/api/ready` answers 503 and every response
     * closes its connection, so the proxy's kept-alive connections end cleanly instead of racing a
     * close; set it above the proxy's upstream keep-alive timeout (`plinth deploy nginx`: 2 s).
     */
    shutdownDrain: Type.Integer({ minimum: 0, maximum: 600_000 }),
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
    /** Serve record views and lists from the cache port (records/read-cache.ts); off by default. */
    cacheRecords: Type.Boolean(),
    /** How long a cached record read may live, in ms: bounds a change made around Plinth (SQL by hand). */
    cacheRecordsTtl: Type.Integer({ minimum: 1, maximum: 86_400_000 }),
    /** Counters (rate limits, nonces): `memory://` (`?maxKeys=N`, default 100 000; `maxNonces=N`, default 1 000 000) or `redis://...`. Default: `redis`, else `memory://`. */
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
    /**
     * Uploaded files: `file://PATH` (a folder; the default is `storage` in the data folder) or
     * `s3://BUCKET?endpoint=...&region=...` (any S3-compatible service; see config/urls.ts).
     */
    files: Type.String({ minLength: 1 }),
    /**
     * Outgoing SMS (sign-in codes): `console://` (the default: written to the log), `aliyun://`,
     * `yuntongxun://`, `tencent://` or `twilio://` with the provider's credentials (config/sms-url.ts).
     */
    sms: Type.String({ minLength: 1 }),
    /**
     * Push notifications: a comma list of engines, `log://` (the default: written to the log),
     * `apns://KEY_ID:TEAM_ID@?key=FILE.p8&topic=BUNDLE`, `fcm://?credentials=FILE.json`,
     * `rongcloud://APP_KEY:APP_SECRET@` (config/push-url.ts).
     */
    push: Type.String({ minLength: 1 }),
    /** Phone sign-in: how numbers are read, and the limits on sending codes (counted in `counters`, so per cluster). */
    phone: Type.Object(
      {
        /** The region (ISO 3166 two letters, like `CN`) of numbers given without `+`; empty: numbers must start with `+`. */
        defaultRegion: Type.Union([Type.Literal(''), Type.String({ pattern: '^[A-Z]{2}$', description: 'two capital letters, like CN' })]),
        /** Regions codes may be sent to (`CN`, `US`...); empty: any. */
        countries: Type.Array(Type.String({ pattern: '^[A-Z]{2}$', description: 'two capital letters, like CN' })),
        /** Codes per number per minute, hour and day; 0 = no limit. */
        perPhoneMinute: Type.Integer({ minimum: 0 }),
        perPhoneHour: Type.Integer({ minimum: 0 }),
        perPhoneDay: Type.Integer({ minimum: 0 }),
        /** Code requests per client address (IPv6: per /64) per hour; 0 = no limit. */
        perIpHour: Type.Integer({ minimum: 0 }),
        /** Code requests per device id (`X-Device-Id`) per hour; 0 = no limit. */
        perDeviceHour: Type.Integer({ minimum: 0 }),
        /** SMS sent per UTC day by the whole deployment; once spent, none is sent until the next day (an alert is logged). 0 = no limit. */
        dailyBudget: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
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
    /**
     * Scheduled backups (PocketBase's names): `cron` a cron expression ('' = none) for
     * `@auto_pb_backup_*.zip` backups into the files port's `_backups/`, keeping the newest `cronMaxKeep`.
     */
    backups: Type.Object(
      {
        cron: Type.String(),
        cronMaxKeep: Type.Integer({ minimum: 1 }),
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
    /**
     * Per-route request limits, PocketBase's `rateLimits` (src/api/rate-limits.ts): each request
     * counts against the first rule whose label matches, per signed-in user or per guest address,
     * in the counters port. On by default; superusers and `excludedIPs` are not counted.
     */
    rateLimits: Type.Object(
      {
        enabled: Type.Boolean(),
        rules: Type.Array(
          Type.Object(
            {
              /** `/api/` (a path prefix), `/api/batch` (a path), `POST /api/batch`, `users:create`, `*:auth`. */
              label: Type.String({ pattern: RATE_LIMIT_LABEL, description: 'a label like /api/, POST /api/batch, users:create or *:auth' }),
              maxRequests: Type.Integer({ minimum: 1 }),
              /** The window in seconds. */
              duration: Type.Integer({ minimum: 1, maximum: 86400 }),
              /** `''` everyone (the default), `@guest` or `@auth`. */
              audience: Type.Optional(Type.Union([Type.Literal(''), Type.Literal('@guest'), Type.Literal('@auth')])),
            },
            { additionalProperties: false },
          ),
          { maxItems: 200 },
        ),
        /** IPs or CIDRs never counted (a monitoring host, an office). */
        excludedIPs: Type.Array(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    /**
     * PocketBase's `trustedProxy`: which request headers carry the client address and whether to
     * take the leftmost address in them. Read only when the connection comes from a proxy that
     * `trustProxy` names, so a client cannot choose its own address.
     */
    trustedProxy: Type.Object(
      {
        headers: Type.Array(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$', description: 'a header name like X-Forwarded-For' }), { maxItems: 10 }),
        useLeftmostIP: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    /** Serve TLS: `''` (off), `dev` (a self-signed certificate made in the data folder) or `CERT_FILE,KEY_FILE` (PEM). */
    https: Type.String(),
    /** `Strict-Transport-Security` max-age in seconds, sent when serving HTTPS or when `publicUrl` is https (0 = no header). */
    hstsMaxAge: Type.Integer({ minimum: 0 }),
    /** IPs or CIDRs that may reach the superuser routes (collections, settings-like APIs, audit, jobs, the admin UI); empty = any. */
    adminAllow: Type.Array(Type.String({ minLength: 1 })),
    /** The audit log of superuser actions and security failures (`_audit`). */
    audit: Type.Object(
      {
        /** Days an entry is kept; older ones are deleted by an hourly job. */
        retentionDays: Type.Integer({ minimum: 1, maximum: 3650 }),
      },
      { additionalProperties: false },
    ),
    /**
     * Public file URLs through a CDN: `baseUrl` (`https://cdn.example.com`, the CDN's origin being
     * this server's files or the bucket) plus a stored key makes the URL, signed by `signer`:
     * `none`, `aliyun-a` (Alibaba Cloud CDN type A, `key` = the console's key), `cloudfront` (canned
     * policy, `key` = the RSA private key PEM, `keyPairId`), `nginx` (`secure_link_md5`, `key` = the
     * secret in `expression`). Empty `baseUrl` (the default): files are served by this server.
     */
    /**
     * Git-webhook deploys on the control host (`POST /api/plinth/deploy/webhook`, on when
     * `webhookSecret` is set): pushes to `branch` of `repo` become numbered releases under
     * `root/releases` with a `current` link, each built with `build` and tested with `test`
     * before `activate` (e.g. `plinth deploy rollout ...`) runs; the last `keep` stay.
     */
    deploy: Type.Object(
      {
        webhookSecret: Type.Union([Type.Literal(''), Type.String({ minLength: 16, description: 'at least 16 characters' })]),
        branch: Type.String({ minLength: 1, maxLength: 200 }),
        repo: Type.String(),
        root: Type.String(),
        build: Type.String(),
        test: Type.String(),
        activate: Type.String(),
        keep: Type.Integer({ minimum: 1, maximum: 100 }),
      },
      { additionalProperties: false },
    ),
    cdn: Type.Object(
      {
        baseUrl: Type.Union([Type.Literal(''), Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$', description: 'an http(s) URL without query' })]),
        signer: Type.Union([Type.Literal('none'), Type.Literal('aliyun-a'), Type.Literal('cloudfront'), Type.Literal('nginx')]),
        /** The signing secret (see `signer`); or `keyFile`, read at start-up. */
        key: Type.String(),
        keyFile: Type.String(),
        /** CloudFront's public key id. */
        keyPairId: Type.String(),
        /** How long a signed URL works (cloudfront, nginx); Alibaba's is set in its console. */
        ttlSeconds: Type.Integer({ minimum: 1, maximum: 7 * 86400 }),
        /** nginx: the `secure_link_md5` expression, `$key` for the secret. */
        expression: Type.String({ minLength: 1 }),
      },
      { additionalProperties: false },
    ),
    /**
     * RFC 9421 request signatures (src/security/signatures). `mode` for every route: `off` (the
     * default), `optional` (a signature that is present must verify) or `required` (every request
     * with a valid auth token must be signed by its session key or a registered device key);
     * `routes` sets a mode per path prefix (the longest prefix wins), e.g. `{"/api/plinth/": "required"}`.
     */
    signatures: Type.Object(
      {
        mode: SignatureMode,
        routes: Type.Record(Type.String({ pattern: '^/' }), SignatureMode),
        /** How far `created` may be from the server's clock, in seconds (either way). */
        maxSkewSeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
      },
      { additionalProperties: false },
    ),
    /** Sensitive fields (src/security/keys, src/security/sensitive). */
    keys: Type.Object(
      {
        /**
         * The master key that encrypts the server's RSA private keys at rest: 32 bytes, base64. Empty:
         * `master.key` in the data folder, made on first start (a cluster sets one key for every node).
         */
        masterKey: Type.String(),
        /** Refuse password fields sent in the clear (they must be compact JWE to /api/plinth/keys). */
        requireEncryption: Type.Boolean(),
        /** How long a rotated-out key still decrypts, in hours. */
        graceHours: Type.Integer({ minimum: 0, maximum: 24 * 365 }),
        /**
         * Keys for fields marked `encrypt` (AES-256-GCM at rest): a comma list of 32-byte base64
         * keys, the first encrypts and all decrypt (src/security/at-rest). Empty: no field can be marked.
         */
        atRestKey: Type.String(),
      },
      { additionalProperties: false },
    ),
    /**
     * Where request logs (`/api/logs`) are written: empty (the default) puts them in
     * `auxiliary.db` in the data folder when `db` is SQLite, else in the `db` database itself;
     * `sqlite://PATH`, `postgres://...` or `mysql://...` puts them in a database of their own.
     */
    logs: Type.Object({ url: Type.String() }, { additionalProperties: false }),
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
    /** Instant messaging over WebSocket (src/config/im.ts, src/im/). */
    im: ImConfigSchema,
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
/** ConfigFileSchema's type, spelt out: TypeBox's Static loses the nested partials of the cast above. */
export type ConfigInput = {
  [K in keyof PlinthConfig]?: PlinthConfig[K] extends readonly unknown[] ? PlinthConfig[K] : PlinthConfig[K] extends object ? Partial<PlinthConfig[K]> : PlinthConfig[K]
}

/** The config keys holding a port's URL that `redis` sets when they are not set themselves. */
export const redisPortKeys = ['cache', 'counters', 'bus'] as const

export { envKeys, envVarOf, toolingEnvKeys } from './env-keys.ts'

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
    shutdownDrain: 0,
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
    cacheRecords: false,
    cacheRecordsTtl: 60_000,
    counters: 'memory://',
    bus: 'memory://',
    queue: 'sql://',
    files: `file://${dir.replace(/\/+$/, '')}/storage`,
    sms: 'console://',
    push: 'log://',
    phone: { defaultRegion: '', countries: [], perPhoneMinute: 1, perPhoneHour: 5, perPhoneDay: 10, perIpHour: 20, perDeviceHour: 20, dailyBudget: 1000 },
    publicUrl: '',
    metrics: { allow: [] },
    authThrottle: { perIdentity: 5, perIp: 100, windowSeconds: 900 },
    backups: { cron: '', cronMaxKeep: 3 },
    realtime: { idleTimeout: 5 * 60_000, maxQueueBytes: 1 << 20 },
    cors: { origins: ['*'] },
    im: { ...IM_DEFAULTS, origins: [] },
    rateLimits: { enabled: true, rules: DEFAULT_RATE_LIMIT_RULES.map((r) => ({ ...r })), excludedIPs: [] },
    trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false },
    https: '',
    hstsMaxAge: 15_552_000,
    adminAllow: [],
    audit: { retentionDays: 90 },
    deploy: { webhookSecret: '', branch: 'main', repo: '', root: '', build: 'npm ci && npm run build', test: 'npm test', activate: '', keep: 5 },
    cdn: { baseUrl: '', signer: 'none', key: '', keyFile: '', keyPairId: '', ttlSeconds: 3600, expression: '$secure_link_expires$uri $key' },
    signatures: { mode: 'off', routes: {}, maxSkewSeconds: 300 },
    keys: { masterKey: '', requireEncryption: false, graceHours: 24 * 7, atRestKey: '' },
    logs: { url: '' },
  }
}

/**
 * The rules on by default: PocketBase's default set (off by default there), with sign-ins looser
 * (PocketBase: 2 per 3 s) because Plinth's password throttle already counts failures per account
 * and per address, and signing in a few devices behind one NAT must not be refused.
 */
export const DEFAULT_RATE_LIMIT_RULES: readonly PlinthConfig['rateLimits']['rules'][number][] = [
  { label: '*:auth', maxRequests: 10, duration: 10 },
  { label: '*:create', maxRequests: 20, duration: 5 },
  { label: '/api/batch', maxRequests: 3, duration: 1 },
  { label: '/api/', maxRequests: 300, duration: 10 },
]
