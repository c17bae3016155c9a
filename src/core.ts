/**
 * The core of the composition root: configuration -> ports (`ports.ts`, db migrated on the way)
 * -> collection store -> records service. No HTTP: `createPlinth` (app.ts) mounts the API on top
 * of it, and every CLI command that touches data (`migrate`, `superuser`) opens the same core,
 * so they all find the same data folder, engines and migrations.
 */
import { removeInstallerOnSuperuserCreate } from './auth/superusers.ts'
import { AuthThrottle, logLocks } from './auth/throttle.ts'
import { defineMailJob } from './auth/mail-queue.ts'
import { defineAuthCleanup } from './auth/auth-cleanup.ts'
import type { PlinthConfig } from './config/schema.ts'
import type { Logger } from './log.ts'
import { Metrics } from './metrics.ts'
import { openPorts, type OpenedPorts, type Ports } from './ports.ts'
import { CollectionStore } from './records/collections/store.ts'
import { syncCollections } from './records/collections/sync.ts'
import { compileFilter } from './records/filter/index.ts'
import { RecordHooks } from './records/hooks.ts'
import { GUEST_REQUEST } from './records/record.ts'
import { RecordsService } from './records/records-service.ts'
import type { Bus } from './bus/bus.ts'
import type { Cache } from './cache/cache.ts'
import type { Counters } from './counters/counters.ts'
import { SmsSignIn } from './auth/sms-signin.ts'
import type { SmsSender } from './sms/sms.ts'
import type { Mailer } from './mail/mail.ts'
import type { SqlRouter } from './sql/router.ts'
import { followPrimarySwitches } from './sql/switch.ts'
import { Jobs } from './jobs/jobs.ts'
import { AUDIT_TABLE } from './sql/migrations/0010-audit.ts'
import type { FileStore } from './files/files.ts'
import { addCdnUrls } from './files/cdn/record-urls.ts'
import { defineFilesCleanup } from './files/cleanup.ts'
import { attachRecordFiles } from './files/record-files.ts'
import { AtRestCipher, parseAtRestKeys } from './security/at-rest/cipher.ts'
import { RecordReadCache } from './records/read-cache.ts'
import { PushService } from './push/service.ts'
import { openSettings, type AdminParts } from './settings/open.ts'
import type { SettingsStore } from './settings/settings-store.ts'
import type { RequestLogs } from './logs/request-logs.ts'

export interface CoreOptions {
  /** Where engines and migrations log. */
  logger: Logger
  /** Figures for SQL queries and pools; a fresh set when absent. */
  metrics?: Metrics
  /**
   * Follow schema changes made by other nodes (bus + stored version, see sync.ts); on by default.
   * A one-shot CLI command turns it off: it exits before another node's change could matter.
   */
  syncSchema?: boolean
}

/** Everything Plinth is without HTTP: the opened ports and the records layer over them. */
export interface Core {
  readonly config: Readonly<PlinthConfig>
  readonly log: Logger
  readonly metrics: Metrics
  readonly sql: SqlRouter
  readonly mail: Mailer
  readonly cache: Cache
  readonly counters: Counters
  readonly bus: Bus
  /** Uploaded files and their thumbs. */
  readonly files: FileStore
  /** The collections (schema), cached in memory. */
  readonly collections: CollectionStore
  /** Record hooks for app code. */
  readonly hooks: RecordHooks
  /** Brute-force limits on password checks (sign-in, email change, password change), in `counters`. */
  readonly authThrottle: AuthThrottle
  /** Records of every collection, with API rules: the one write path. */
  readonly records: RecordsService
  /** Background jobs and cron over the queue port; its worker runs only once started. */
  readonly jobs: Jobs
  /** Outgoing SMS (the `sms` port). */
  readonly sms: SmsSender
  /** Phone sign-in: its limits, its send job (`plinth.sms`) and code checks. */
  readonly smsSignIn: SmsSignIn
  /** Record reads from the cache port (`cacheRecords`; `enabled` changes on SIGHUP). Invalidates on every commit either way. */
  readonly readCache: RecordReadCache
  /** Push notifications (the `push` port): devices, `push.send(...)` and its jobs. */
  readonly push: PushService
  /** PocketBase's settings (`/api/settings`), shared by every node through the database. */
  readonly settings: SettingsStore
  /** The request logs (`/api/logs`): their own database, written in batches. */
  readonly requestLogs: RequestLogs
  /** The system migrations this open applied (empty when the database was up to date). */
  readonly applied: readonly string[]
  /** The shared services the ports use and their state now, for `/api/health` (`{redis: 'ok'}`). */
  services(): Record<string, 'ok' | 'unreachable'>
  /** Closes every port, in reverse order of opening. Idempotent; never rejects. */
  close(): Promise<void>
}

/**
 * Opens the core for `config`: every port in the order `portList` gives (closing those already
 * open if one fails), then the collection store and the records service. Throws a StartupError
 * (one line naming the key) for a setting or an engine the operator must fix.
 *
 * Redis unreachable at start is not an error: its connection retries in the background (logged
 * as a warning), the cache acts as empty and counters answer 503 until it is back, so a node can
 * start during a Redis restart and the operator sees the outage in the log and `/api/health`.
 */
export async function openCore(config: Readonly<PlinthConfig>, opts: CoreOptions): Promise<Core> {
  const log = opts.logger
  const metrics = opts.metrics ?? new Metrics()
  const opened: OpenedPorts = await openPorts(config, { log, metrics })
  const { db: sql, mail, cache, counters, bus, queue, files, sms, push: pushPort }: Ports = opened.ports
  let admin: AdminParts | undefined
  try {
    // Whichever instance is the primary now (`plinth db switch-primary` may move it).
    const primary = sql.primaryHandle()
    // A rule must compile when it is saved, not fail later on every request.
    const collections: CollectionStore = await CollectionStore.open(primary, {
      validateRule: (collection, rule) =>
        void compileFilter(rule, { collection, registry: collections, capabilities: primary.capabilities, request: GUEST_REQUEST, allowHidden: true }),
      log: (message, detail) => log.warn(detail, message),
      atRest: new AtRestCipher(parseAtRestKeys(config.keys.atRestKey)),
    })
    // Schema changes reach the other nodes over the bus, and the stored version is also checked
    // on a timer, for a message lost while Redis was away (see sync.ts).
    const stopSync = opts.syncSchema === false ? async () => {} : await syncCollections(collections, bus, log)
    // `plinth db switch-primary` reaches every node over the bus (sql/switch.ts).
    const stopSwitches = sql.replicated ? await followPrimarySwitches(sql, bus, config.dir, log) : async () => {}
    const hooks = new RecordHooks()
    // A password change's oldPassword check counts against the same limits as a sign-in.
    const authThrottle = new AuthThrottle(counters, config.authThrottle, logLocks(log))
    const records = new RecordsService(collections, sql, hooks, authThrottle, (c, out) => addCdnUrls(config, collections, c, out))
    // Auth builds on records: the first real superuser removes the install-link placeholder.
    removeInstallerOnSuperuserCreate(records)
    // Before app code adds hooks: uploads are stored once the row is written, and undone on rollback.
    attachRecordFiles({ hooks, records, files, log })
    const jobs = new Jobs({ queue, records, counters, log })
    // Settings, the mailer that follows them and the request logs (settings/open.ts).
    admin = await openSettings({ config, sql, bus, jobs, mail, log, follow: opts.syncSchema !== false })
    // Built-in mails are jobs, defined on every node (API nodes enqueue, workers send).
    defineMailJob(jobs, admin.mail)
    // The audit log's retention (api/audit.ts writes it), a system cron as PocketBase's
    // `__pbLogsCleanup__`: defined here so that a `plinth worker` node runs it too.
    jobs.cron('__plinthAuditCleanup__', '17 * * * *', async () => {
      await sql.writer().db.deleteFrom(AUDIT_TABLE).where('created', '<', Date.now() - config.audit.retentionDays * 86_400_000).execute()
    })
    // Expired one-time codes and MFA first factors, PocketBase's hourly cleanups.
    defineAuthCleanup(jobs, { registry: collections, db: () => sql.writer().db })
    // Files no record holds (a crash between a commit and its clean-up), daily (files/cleanup.ts).
    defineFilesCleanup(jobs, { files, registry: collections, db: () => sql.writer().db, log })
    // Phone sign-in defines its send job here, so `plinth worker` runs it too.
    const smsSignIn = new SmsSignIn({ registry: collections, records, db: () => sql.writer().db, jobs, sms, counters, log, limits: config.phone })
    // Push defines its plan and send jobs here, so `plinth worker` runs them too.
    const push = new PushService({ port: pushPort, jobs, records, registry: collections, sql: () => sql.writer(), log })
    // Subscriptions between nodes (bus topics) go here, once the records layer exists.
    // Generations move on every commit even with `cacheRecords` off, so turning it on later (SIGHUP, another node) never serves an old entry.
    const readCache = new RecordReadCache({ cache, counters, bus, sql, registry: collections, version: () => collections.version, ttlMs: config.cacheRecordsTtl, enabled: config.cacheRecords, log })
    records.readCache = readCache
    const stopReadCache = await readCache.attach(records, collections)
    let closing: Promise<void> | undefined
    return {
      config,
      log,
      metrics,
      sql,
      mail: admin.mail,
      settings: admin.settings,
      requestLogs: admin.requestLogs,
      cache,
      counters,
      authThrottle,
      bus,
      files,
      collections,
      hooks,
      records,
      jobs,
      sms,
      smsSignIn,
      readCache,
      push,
      applied: opened.prepared.db ?? [],
      services: (): Record<string, 'ok' | 'unreachable'> => {
        const up = [...opened.redis.values()].map((c) => c.ready)
        return up.length ? { redis: up.every(Boolean) ? 'ok' : 'unreachable' } : {}
      },
      close: () =>
        (closing ??= (async () => {
          // Before the ports: running jobs and a reload in flight still need the database.
          await jobs.stopWorker(config.shutdownTimeout).catch((err: unknown) => log.error({ err }, 'stopping the worker failed'))
          await stopSync().catch(() => undefined)
          await stopSwitches().catch(() => undefined)
          await stopReadCache().catch(() => undefined)
          await admin?.close().catch(() => undefined)
          await opened.close()
        })()),
    }
  } catch (err) {
    await admin?.close().catch(() => undefined)
    await opened.close()
    throw err
  }
}
