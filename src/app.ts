import net from 'node:net'
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify'
import { loadConfig, type LoadOptions } from './config/load.ts'
import type { PlinthConfig } from './config/schema.ts'
import { installErrorHandling } from './api/error-handler.ts'
import { installSqlRouting } from './api/sql-routing.ts'
import { healthRoutes } from './api/health.ts'
import { adminUiRoutes } from './api/admin-ui.ts'
import { metricsRoutes } from './api/metrics.ts'
import { createLogger, type Logger } from './log.ts'
import { Metrics } from './metrics.ts'
import { collectionsRoutes } from './api/collections.ts'
import { recordAuthRoutes } from './api/record-auth.ts'
import { installJsonBodyParser } from './api/json-body.ts'
import { RequestLog } from './api/request-log.ts'
import { lazySchemaCompilers } from './api/lazy-compilers.ts'
import multipart from '@fastify/multipart'
import { filesRoutes } from './api/files.ts'
import { directUploadsRoutes } from './api/direct-uploads.ts'
import type { FileStore } from './files/files.ts'
import cors from '@fastify/cors'
import { ERROR_CODE_HEADER } from './errors.ts'
import { listenTarget, listenError, usableUrl } from './config/listen.ts'
import { recordsRoutes } from './api/records.ts'
import { batchRoutes } from './api/batch.ts'
import type { RecordsService } from './records/records-service.ts'
import type { RecordHooks } from './records/hooks.ts'
import { AuthCache, followAuthChanges } from './auth/auth-cache.ts'
import { createAuthenticator } from './auth/index.ts'
import './auth/request.ts'
import { phoneAuthMethods, recordAuthSmsRoutes } from './api/record-auth-sms.ts'
import type { Mailer } from './mail/mail.ts'
import type { CollectionStore } from './records/collections/store.ts'
import type { Cache } from './cache/cache.ts'
import type { Counters } from './counters/counters.ts'
import type { Bus } from './bus/bus.ts'
import { openCore, type Core } from './core.ts'
import { Realtime } from './realtime/realtime.ts'
import { realtimeRoutes } from './realtime/routes.ts'
import { mountIm, type Im } from './im/index.ts'
import { pushOfflineMembers } from './im/offline-push.ts'
import type { SqlRouter } from './sql/router.ts'
import type { CronHandler, Jobs } from './jobs/jobs.ts'
import { jobsRoutes } from './api/jobs.ts'
import { queuedMailer } from './auth/mail-queue.ts'
import { installSecurity } from './api/security.ts'
import { AuditLog, auditRoutes, signatureFailureAuditor } from './api/audit.ts'
import { loadTls } from './api/tls.ts'
import { installSignatureChecks } from './api/signatures.ts'
import { devicesRoutes } from './api/devices.ts'
import { pushRoutes } from './api/push.ts'
import type { PushService } from './push/service.ts'
import { DeviceKeys } from './security/signatures/devices.ts'
import { installSensitiveFields } from './api/sensitive.ts'
import { KeyRing } from './security/keys/key-ring.ts'
import { loadMasterKey } from './security/keys/master-key.ts'
import { sessionSigningKey } from './security/signatures/session-key.ts'
import { signingEnabled } from './security/signatures/verify-request.ts'
import { installBackups } from './api/backups-node.ts'
import { liveReloader } from './reload.ts'
import { settingsRoutes } from './api/settings.ts'
import { installRequestLogging, logsRoutes } from './api/logs.ts'
import type { SettingsStore } from './settings/settings-store.ts'
import type { RequestLogs } from './logs/request-logs.ts'

export interface CreateOptions {
  /** A ready configuration, or how to load one (file, env, overrides). */
  config?: Readonly<PlinthConfig> | LoadOptions
  /** A logger to use instead of the default (stdout, `logFormat`: JSON, or pretty on a TTY). */
  logger?: Logger
}

export interface Plinth {
  readonly config: Readonly<PlinthConfig>
  /** The Fastify instance: add routes and hooks with the usual Fastify API before `start()`. */
  readonly http: FastifyInstance
  readonly sql: SqlRouter
  readonly log: Logger
  readonly metrics: Metrics
  /** The collections (schema), cached in memory. */
  readonly collections: CollectionStore
  readonly mail: Mailer
  /** The cache port (`cache` / `redis` config): in-process LRU or Redis. */
  readonly cache: Cache
  /** The counters port (`counters` / `redis` config): rate limits and nonces, shared across nodes on Redis. */
  readonly counters: Counters
  /** The bus port (`bus` / `redis` config): pub/sub between nodes. */
  readonly bus: Bus
  /** Uploaded files and their thumbs (the `files` port). */
  readonly files: FileStore
  /** Records of every collection, with API rules (what the records endpoints call). */
  readonly records: RecordsService
  /** Record hooks for app code: `app.hooks.onRecordCreate((e, next) => ..., 'posts')`. */
  readonly hooks: RecordHooks
  /** Realtime (SSE): `app.realtime.publish(topic, data)`, and hooks in `app.realtime.hooks`. */
  readonly realtime: Realtime
  /** Instant messaging (WebSocket `/api/plinth/im`): hooks in `app.im.hooks` (src/im/). */
  readonly im: Im
  /** Background jobs: `app.jobs.define(name, handler, opts)`, `app.jobs.enqueue(name, data, opts)` (jobs/jobs.ts). */
  readonly jobs: Jobs
  /** Runs `handler` on a cron schedule, once per tick across every worker node: `app.cron('digest', '0 8 * * *', fn)`. */
  cron(id: string, expression: string, handler: CronHandler): void
  /**
   * Push notifications: `app.push.send({ users: [id...], collection?: 'users', notification: {title, body}, data, badge, sound, collapseId, ttl })`
   * or `{ query: {collection, filter}, ... }`; resolves with `{id}` once queued (push/service.ts).
   */
  readonly push: PushService
  /** PocketBase's settings (`/api/settings`): `app.settings.current`, `app.settings.onChange(fn)`. */
  readonly settings: SettingsStore
  /** The request logs behind `/api/logs` (`app.requestLogs.writer.flush()` writes what is buffered). */
  readonly requestLogs: RequestLogs
  /** The server's RSA keys for sensitive fields: `app.keys.rotate()` (what `plinth keys rotate` will call). */
  readonly keys: KeyRing
  /** The public base URL (config `publicUrl`, else derived from `http`). */
  readonly publicUrl: string
  /** Listens on `config.http`; resolves with the URL it listens on. */
  start(): Promise<string>
  /** Stops accepting, lets in-flight requests finish (up to `shutdownTimeout`), closes engines. */
  stop(): Promise<void>
  /** Applies what can change live of a reloaded config (SIGHUP; reload.ts); the rest is logged, one line per setting. */
  reload(next: Readonly<PlinthConfig>): Promise<{ applied: string[]; restart: string[] }>
}

function isConfig(c: CreateOptions['config']): c is Readonly<PlinthConfig> {
  return !!c && typeof (c as PlinthConfig).http === 'string' && typeof (c as PlinthConfig).db === 'string'
}

/**
 * How long a verified token may be served from memory without looking at its record again
 * (`auth/auth-cache.ts`): changes made through Plinth end it at once on every node; this bounds
 * changes made around it (SQL by hand, a CLI command where nodes share no bus).
 */
const AUTH_CACHE_TTL = 15_000

/** Keeps an incoming `X-Request-Id` when it is short and plain; otherwise makes one. */
function requestId(header: string | string[] | undefined): string {
  return typeof header === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(header) ? header : randomUUID()
}

/**
 * The composition root: reads the frozen configuration, opens the core (ports, migrations,
 * collections, records: `core.ts`), and mounts the API on it. Nothing else picks engines.
 */
export async function createPlinth(opts: CreateOptions = {}): Promise<Plinth> {
  const config = isConfig(opts.config) ? opts.config : loadConfig(opts.config)
  const log = opts.logger ?? createLogger(config)
  const metrics = new Metrics()
  const core = await openCore(config, { logger: log, metrics })
  try {
    return await mount(core)
  } catch (err) {
    await core.close()
    throw err
  }
}

/** The HTTP API over an opened core. */
async function mount(core: Core): Promise<Plinth> {
  const { config, log, metrics, sql, collections, mail, counters, records } = core
  const tls = loadTls(config)
  const scheme = (url: string) => (tls ? url.replace(/^http:/, 'https:') : url)
  const publicUrl = (config.publicUrl || scheme(usableUrl(listenTarget(config.http)))).replace(/\/+$/, '')
  // Auth reads the primary while it answers: a token must stop working the moment its password
  // changes. With the primary down, a replica: signed-in clients keep reading in an outage.
  const authCache = new AuthCache(collections, { ttl: AUTH_CACHE_TTL, maxEntries: 10_000 })
  const stopAuthCache = await followAuthChanges(authCache, records, core.bus, log)
  const authenticate = createAuthenticator({ registry: collections, db: () => sql.freshest().db, cache: authCache })

  /** Set when a stop begins with a drain (`shutdownDrain`). */
  let draining = false
  const http = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // One line per request, once answered, instead of Fastify's two.
    logController: new RequestLog(),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    // Alone, a request that comes while closing gets 503 at once. Behind a balancer (a drain is
    // set), it is served (its connection then closed): the balancer sent it on a connection it
    // held, and a write answered 503 there would be lost, not retried.
    return503OnClosing: config.shutdownDrain === 0,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
    // Ajv is loaded, and each route's validator compiled, on first use (api/lazy-compilers.ts).
    schemaController: { compilersFactory: lazySchemaCompilers() },
    // A client that trickles its headers or body is answered 408 and cut once these run out.
    // Node checks them every connectionsCheckingInterval (default 30 s, far coarser than the limits).
    requestTimeout: config.requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout,
    ...(tls ? { https: { cert: tls.cert, key: tls.key } } : {}),
    http: {
      headersTimeout: config.headersTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(config.headersTimeout, config.requestTimeout) / 4))),
    },
  })
  installErrorHandling(http)
  if (sql.replicated) {
    installSqlRouting(http, { sql, counters, log, maxReplicaLag: config.dbMaxReplicaLag })
    // Committed record writes pin the client's reads (api/sql-routing.ts).
    records.onCommit(() => sql.noteWrite())
  }
  // CORS as PocketBase: every origin by default, narrowed by `cors.origins`. Browsers may read
  // the error code and request id headers cross-origin.
  await http.register(cors, {
    origin: config.cors.origins.includes('*') ? '*' : [...config.cors.origins],
    methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
    exposedHeaders: [ERROR_CODE_HEADER, 'x-request-id'],
  })
  // PocketBase's SDK sends `Content-Type: application/json` with no body on DELETE and refresh
  // calls: an empty body is `{}`; `__proto__`/`constructor` keys are dropped, not a 400.
  installJsonBodyParser(http)
  http.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime)
    done()
  })
  // Every request knows who makes it before any handler runs (null for guests and bad tokens);
  // a guest or a token seen before is answered without waiting (auth/authenticate.ts).
  http.decorateRequest('auth', null)
  http.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    // Draining before a stop: each connection ends after its answer (see `shutdownDrain`).
    if (draining) reply.header('connection', 'close')
    const auth = authenticate(request)
    if (!(auth instanceof Promise)) {
      request.auth = auth
      return done()
    }
    auth.then(
      (a) => {
        request.auth = a
        done()
      },
      (err: Error) => done(err),
    )
  })
  // Client address, security headers, admin allow-list, rate limits, audit (api/security.ts).
  const audit = new AuditLog(sql, log, counters)
  const security = await installSecurity(http, { config, counters, registry: collections, audit, tls: !!tls, settings: core.settings })
  // Request logs for /api/logs, buffered and written in batches (api/logs.ts, src/logs/).
  installRequestLogging(http, core.requestLogs)
  // RFC 9421 request signatures, checked before any handler once auth is known (api/signatures.ts).
  const devices = new DeviceKeys(() => sql.writer().db)
  installSignatureChecks(http, {
    settings: config.signatures, counters, bodyLimit: config.bodyLimit,
    deviceKey: (keyid, auth) => devices.keyFor(keyid, { collectionId: auth.collection.id, recordId: auth.record.id }),
    onSignatureFailure: signatureFailureAuditor(audit),
  })
  // Sensitive fields: JWKS at /api/plinth/keys; JWE body values decrypted before validation.
  const keyRing = new KeyRing(() => sql.writer().db, loadMasterKey(config.keys.masterKey, config.dir), config.keys.graceHours * 3_600_000)
  const sensitive = installSensitiveFields(http, { ring: keyRing, requireEncryption: config.keys.requireEncryption, registry: collections })
  const isSuperuser = async (request: FastifyRequest) => request.auth?.isSuperuser ?? false
  // PocketBase's /api/backups, backups.cron, and this node's presence for restores (api/backups-node.ts).
  const backups = await installBackups(http, core)
  await http.register(healthRoutes, { sql, services: core.services, canBackup: () => backups.canBackup, draining: () => draining })
  await http.register(metricsRoutes, { metrics, allow: config.metrics.allow, isSuperuser })
  await http.register(collectionsRoutes, {
    store: collections,
    isSuperuser: (request) => request.auth?.isSuperuser ?? null,
  })
  // multipart/form-data for record bodies and batches (PocketBase's SDK uses it for both).
  await http.register(multipart, { limits: { fileSize: config.bodyLimit, fields: 1000, files: 100 } })
  await http.register(recordsRoutes, { records, sensitive })
  await http.register(batchRoutes, { records, limiter: security.limiter, registry: collections, sensitive, settings: () => core.settings.current.batch })
  await http.register(auditRoutes, { audit })
  await http.register(settingsRoutes, { settings: core.settings, registry: collections, mail })
  await http.register(logsRoutes, { logs: core.requestLogs })
  await http.register(filesRoutes, { records, registry: collections, files: core.files, db: () => sql.writer().db, log })
  await http.register(directUploadsRoutes, { records, files: core.files, counters })
  // Record events from committed writes, fanned out between nodes through the bus.
  const realtime = await Realtime.start({ registry: collections, reader: () => sql.freshest(), bus: core.bus, records, log, metrics, cdn: config }, { idleMs: config.realtime.idleTimeout, maxQueueBytes: config.realtime.maxQueueBytes })
  await http.register(realtimeRoutes, { realtime, metrics })
  // IM over WebSocket, fanned out through the bus like realtime (src/im/).
  const im = await mountIm(http, core)
  if (config.im.pushOffline) pushOfflineMembers(im.hooks, core.push, log)
  const authOptions = {
    registry: collections, records, db: () => sql.writer(), mail: queuedMailer(core.jobs, mail), authenticate, appUrl: publicUrl, appName: 'Plinth',
    meta: () => ({ appName: core.settings.current.meta.appName, appUrl: core.settings.current.meta.appURL }),
    counters, throttle: core.authThrottle, authMethods: [phoneAuthMethods],
    signingKey: signingEnabled(config.signatures) ? sessionSigningKey : undefined,
  }
  await http.register(recordAuthRoutes, authOptions)
  await http.register(recordAuthSmsRoutes, { ...authOptions, smsSignIn: core.smsSignIn, phone: config.phone })
  await http.register(jobsRoutes, { jobs: core.jobs, log })
  await http.register(devicesRoutes, { devices })
  await http.register(pushRoutes, { push: core.push, log })
  // Git-webhook deploys, on the control host only (config `deploy.webhookSecret`).
  if (config.deploy.webhookSecret) await http.register((await import('./api/deploy-webhook.ts')).deployRoutes, { deploy: config.deploy })
  metrics.watchJobs(core.jobs.engine, () => core.jobs.counts())
  metrics.watchRecordsCache(() => core.readCache.stats)
  // The admin console at /_/ (api/admin-ui.ts): the static bundle from dist/admin.
  await http.register(adminUiRoutes, {})

  let stopping: Promise<void> | undefined
  const app: Plinth = {
    config,
    http,
    sql,
    log,
    metrics,
    collections,
    records,
    hooks: core.hooks,
    realtime,
    im,
    mail,
    cache: core.cache,
    counters,
    bus: core.bus,
    files: core.files,
    jobs: core.jobs,
    push: core.push,
    keys: keyRing,
    settings: core.settings,
    requestLogs: core.requestLogs,
    cron: (id, expression, handler) => core.jobs.cron(id, expression, handler),
    publicUrl,
    reload: liveReloader(config, { log, sql, metrics, readCache: core.readCache, security }),
    async start() {
      const target = listenTarget(config.http)
      try {
        await http.listen({ host: target.host, port: target.port }).catch((err: NodeJS.ErrnoException) => {
          // `::` on a host without IPv6: every IPv4 interface instead.
          if (target.host !== '::' || (err.code !== 'EAFNOSUPPORT' && err.code !== 'EADDRNOTAVAIL')) throw err
          return http.listen({ host: '0.0.0.0', port: target.port })
        })
      } catch (err) {
        throw listenError(err, config.http)
      }
      const bound = http.server.address()
      return scheme(usableUrl({ ...target, port: bound && typeof bound === 'object' ? bound.port : target.port }))
    },
    stop() {
      stopping ??= (async () => {
        // Nothing to drain when listen() failed (a port in use): stop at once.
        if (config.shutdownDrain > 0 && http.server.listening) {
          draining = true
          // Stop accepting at once (a balancer retries a refused connection elsewhere, writes
          // included, as nothing was sent) but keep open connections: each ends after its next
          // answer. net's close, not http's, which would also cut idle connections the balancer
          // may be about to reuse; Fastify's own close later finds the listener gone and goes on.
          net.Server.prototype.close.call(http.server)
          log.info({ ms: config.shutdownDrain }, 'draining: not accepting, not ready, closing each connection after its answer')
          await new Promise((r) => setTimeout(r, config.shutdownDrain))
        }
        // Fastify answers 503 to new requests while closing and waits for in-flight ones;
        // after shutdownTimeout the remaining connections are cut.
        const timer = setTimeout(() => http.server.closeAllConnections(), config.shutdownTimeout)
        // A keep-alive connection whose request was in flight turns idle once answered; close it
        // then, rather than holding the stop until shutdownTimeout.
        const sweep = setInterval(() => http.server.closeIdleConnections(), 50)
        // The worker (if running) stops beside the HTTP server, within the same shutdownTimeout.
        const worker = core.jobs.stopWorker(config.shutdownTimeout).catch((err: unknown) => log.error({ err }, 'stopping the worker failed'))
        try {
          await http.close()
        } finally {
          clearTimeout(timer)
          clearInterval(sweep)
          await worker
          await stopAuthCache().catch(() => undefined)
          await backups.stop().catch(() => undefined)
          await core.close()
        }
      })()
      return stopping
    },
  }
  return app
}
