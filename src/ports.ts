/**
 * Every port Plinth opens, described once: the config key holding its URL, the environment
 * variable that sets it, its default, how the URL is parsed (the scheme picks the engine), and
 * each engine's lazy `import()` and opening. The composition root (`core.ts`) walks this list in
 * order; features receive the opened ports and never learn which engine is behind them.
 *
 * Adding an engine: a module beside its port (`src/cache/<engine>.ts`), its scheme in the port's
 * URL parser (`config/urls.ts`), and one entry in `engines` below. TypeScript refuses a parser
 * that can name an engine this list cannot open.
 */
import type { PlinthConfig } from './config/schema.ts'
import { envVarOf, defaults } from './config/schema.ts'
import {
  parseBusUrl,
  parseCacheUrl,
  parseCountersUrl,
  parseDbUrl,
  parseFilesUrl,
  parseMailUrl,
  parseQueueUrl,
  parseSmsUrl,
  type BusTarget,
  type CacheTarget,
  type CountersTarget,
  type DbTarget,
  type FilesTarget,
  type MailTarget,
  type QueueTarget,
  type SmsTarget,
} from './config/urls.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import type { Bus } from './bus/bus.ts'
import type { Cache } from './cache/cache.ts'
import type { Counters } from './counters/counters.ts'
import type { Mailer } from './mail/mail.ts'
import type { Queue } from './jobs/queue.ts'
import type { FileStore } from './files/files.ts'
import type { SmsSender } from './sms/sms.ts'
import type { PushPort } from './push/push.ts'
import { parsePushUrl, type PushTarget } from './config/push-url.ts'
import type { RedisConnection } from './redis/client.ts'
import { migrate } from './sql/migrate.ts'
import { systemMigrations } from './records/collections/migrations.ts'
import type { SqlRouter } from './sql/router.ts'

/** The opened ports, by config key. */
export interface Ports {
  db: SqlRouter
  mail: Mailer
  cache: Cache
  counters: Counters
  bus: Bus
  queue: Queue
  files: FileStore
  sms: SmsSender
  push: PushPort
}
/** A port's name, which is also its config key. */
export type PortKey = keyof Ports

/** What an engine may use while it opens. */
export interface PortContext {
  readonly config: Readonly<PlinthConfig>
  readonly log: Logger
  readonly metrics: Metrics
  /**
   * The Redis connection for `url`, opened on first use and shared by every engine given the same
   * URL (with `redis` set, cache, counters and the bus publisher share one). The root closes it
   * after the ports that use it; engines given it must not close it.
   */
  redis(url: string): Promise<RedisConnection>
  /** The ports opened before this one (the SQL queue works on `db`). */
  readonly opened: Readonly<Partial<Ports>>
}

/** One engine: opens the port from its parsed URL, importing its module only now. */
type EngineOpener<T, Target> = (target: Target, ctx: PortContext) => Promise<T>

/** One port. `Target` is what its URL parser returns; its `engine` names the engine to open. */
export interface PortDescriptor<T, Target extends { engine: string }> {
  /** The config key holding the URL, which is also the port's name. */
  readonly key: PortKey
  /** The environment variable that sets it. */
  readonly env: string
  /** The URL used when nothing is set (for `db`, the SQLite file in the data folder). */
  readonly defaultUrl: string
  /** Parses and validates the URL; a ConfigError naming the key when it is wrong. */
  parse(url: string, config: Readonly<PlinthConfig>): Target
  /** One opener per engine the parser can name. */
  readonly engines: { readonly [E in Target['engine']]: EngineOpener<T, Extract<Target, { engine: E }>> }
  /** A step after opening, before the next port opens (db: the system migrations); returns what it did. */
  prepare?(port: T, ctx: PortContext): Promise<string[]>
  /** Releases the port (the root calls it on stop, and when a later port fails to open). */
  close(port: T): Promise<void>
}

const sampleDefaults = defaults('./plinth_data')

/**
 * A port's descriptor from what only it knows (its key, parser, engines, any `prepare` step); the
 * environment variable and default URL are the config's facts for that key, and every port closes
 * with its own `close()`.
 */
function describePort<T extends { close(): Promise<void> }, Target extends { engine: string }>(
  d: Pick<PortDescriptor<T, Target>, 'key' | 'parse' | 'engines' | 'prepare'>,
): PortDescriptor<T, Target> {
  const env = envVarOf(d.key)
  if (!env) throw new Error(`ports: no environment variable maps to the config key ${d.key} (config/schema.ts envKeys)`)
  return { ...d, env, defaultUrl: sampleDefaults[d.key], close: (port) => port.close() }
}

async function openDb(_target: DbTarget, ctx: PortContext): Promise<SqlRouter> {
  // The SQL port keeps its engine switch (and each driver's lazy import) in `sql/open.ts`;
  // replicas and the DR instance are opened beside the primary in `sql/cluster.ts`.
  const { openSqlRouter } = await import('./sql/cluster.ts')
  return openSqlRouter(ctx.config, ctx.log, ctx.metrics)
}

/**
 * The ports in the order they open. `db` is first (everything else may need it) and is migrated
 * before anything else opens; stop closes them in reverse.
 */
export const portList = [
  describePort<SqlRouter, DbTarget>({
    key: 'db',
    parse: (url) => parseDbUrl(url, 'db'),
    engines: { sqlite: openDb, postgres: openDb, mysql: openDb },
    // NB: the one place system migrations run; serve, migrate and superuser all come through here.
    prepare: async (sql, ctx) => {
      const { applied } = await migrate(sql.primary, systemMigrations(sql.primary.dialect))
      if (applied.length) ctx.log.info({ engine: sql.primary.name, applied }, 'applied migrations')
      return applied
    },
  }),
  describePort<Mailer, MailTarget>({
    key: 'mail',
    parse: (url) => parseMailUrl(url, 'mail'),
    engines: {
      log: async (t, ctx) => (await import('./mail/log.ts')).createLogMailer(ctx.log, t.from),
      smtp: async (t) => (await import('./mail/smtp.ts')).createSmtpMailer(t),
    },
  }),
  describePort<Cache, CacheTarget>({
    key: 'cache',
    parse: (url) => parseCacheUrl(url, 'cache'),
    engines: {
      memory: async (t) => (await import('./cache/memory.ts')).memoryCache({ maxBytes: t.params.maxBytes }),
      redis: async (t, ctx) => (await import('./cache/redis.ts')).redisCache({ connection: await ctx.redis(t.url), log: ctx.log }),
    },
  }),
  describePort<Counters, CountersTarget>({
    key: 'counters',
    parse: (url) => parseCountersUrl(url, 'counters'),
    engines: {
      memory: async (t) => (await import('./counters/memory.ts')).memoryCounters({ maxKeys: t.params.maxKeys, maxNonces: t.params.maxNonces }),
      redis: async (t, ctx) => (await import('./counters/redis.ts')).redisCounters({ connection: await ctx.redis(t.url) }),
    },
  }),
  describePort<Bus, BusTarget>({
    key: 'bus',
    parse: (url) => parseBusUrl(url, 'bus'),
    engines: {
      memory: async (_t, ctx) => (await import('./bus/memory.ts')).memoryBus({ log: ctx.log }),
      redis: async (t, ctx) => (await import('./bus/redis.ts')).redisBus({ connection: await ctx.redis(t.url), log: ctx.log }),
    },
  }),
  describePort<Queue, QueueTarget>({
    key: 'queue',
    parse: (url) => parseQueueUrl(url, 'queue'),
    engines: {
      // The `_jobs` table is made by the system migrations, with `db`.
      sql: async (t, ctx) => (await import('./jobs/sql.ts')).sqlQueue({ sql: ctx.opened.db!, log: ctx.log, leaseMs: t.leaseMs, pollMs: t.pollMs }),
      bullmq: async (t, ctx) => (await import('./jobs/bullmq.ts')).bullQueue({ redis: t.redis, log: ctx.log, leaseMs: t.leaseMs }),
    },
  }),
  describePort<FileStore, FilesTarget>({
    key: 'files',
    parse: (url) => parseFilesUrl(url, 'files'),
    engines: {
      local: async (t) => (await import('./files/local.ts')).localStore({ dir: t.dir }),
      s3: async (t, ctx) => (await import('./files/s3.ts')).openS3Store(t, ctx),
    },
  }),
  describePort<SmsSender, SmsTarget>({
    key: 'sms',
    parse: (url) => parseSmsUrl(url, 'sms'),
    engines: {
      console: async (_t, ctx) => (await import('./sms/console.ts')).consoleSms(ctx.log),
      aliyun: async (t) => (await import('./sms/aliyun.ts')).aliyunSms(t),
      yuntongxun: async (t) => (await import('./sms/yuntongxun.ts')).yuntongxunSms(t),
      tencent: async (t) => (await import('./sms/tencent.ts')).tencentSms(t),
      twilio: async (t) => (await import('./sms/twilio.ts')).twilioSms(t),
    },
  }),
  describePort<PushPort, PushTarget>({
    key: 'push',
    parse: (url) => parsePushUrl(url, 'push'),
    // One setting, several engines (log, apns, fcm, rongcloud), each imported only when listed.
    engines: { engines: async (t, ctx) => (await import('./push/open.ts')).openPush(t, ctx.log) },
  }),
] as const

/** Opened ports and how to release them. */
export interface OpenedPorts {
  readonly ports: Ports
  /** What each port's `prepare` step did (db: the migrations applied now). */
  readonly prepared: Partial<Record<PortKey, string[]>>
  /** The shared Redis connections, by masked URL: `ready` is live (for health reports). */
  readonly redis: ReadonlyMap<string, RedisConnection>
  /** Closes every port in reverse order, then the shared Redis connections; never rejects. */
  close(): Promise<void>
}

/** A descriptor seen without its types, as the loop sees every entry. */
export type AnyDescriptor = PortDescriptor<unknown, { engine: string }>

/**
 * Opens every port of `portList` in order. Every URL is parsed before anything opens (a typo in
 * `bus` must not leave a half-migrated database behind); if a port then fails to open, the ones
 * already open are closed and the error is thrown as it came (a StartupError names its key).
 */
export async function openPorts(
  config: Readonly<PlinthConfig>,
  ctx: Omit<PortContext, 'redis' | 'config' | 'opened'>,
  /** Tests pass their own list; the result is typed as `Ports` only for the default one. */
  list: readonly AnyDescriptor[] = portList as readonly AnyDescriptor[],
): Promise<OpenedPorts> {
  const targets = list.map((d) => d.parse(config[d.key], config))
  const ports: Partial<Record<PortKey, unknown>> = {}
  const connections = new Map<string, Promise<RedisConnection>>()
  const context: PortContext = {
    ...ctx,
    config,
    opened: ports as Partial<Ports>,
    redis(url) {
      let c = connections.get(url)
      if (!c) {
        c = import('./redis/client.ts').then((m) => m.openRedis(url, { log: ctx.log, name: 'shared' }))
        connections.set(url, c)
      }
      return c
    },
  }
  const opened: { d: AnyDescriptor; port: unknown }[] = []
  const closeAll = async () => {
    for (const { d, port } of opened.reverse()) {
      await d.close(port).catch((err: unknown) => ctx.log.error({ err, port: d.key }, 'closing a port failed'))
    }
    const shared = await Promise.allSettled(connections.values())
    await Promise.allSettled(shared.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)))
  }
  const prepared: Partial<Record<PortKey, string[]>> = {}
  try {
    for (const [i, d] of list.entries()) {
      const target = targets[i]!
      const open = (d.engines as Record<string, EngineOpener<unknown, { engine: string }>>)[target.engine]
      if (!open) throw new Error(`${d.key}: no engine "${target.engine}" in the port list`)
      const port = await open(target, context)
      opened.push({ d, port })
      ports[d.key] = port
      if (d.prepare) prepared[d.key] = await d.prepare(port, context)
    }
  } catch (err) {
    await closeAll()
    throw err
  }
  const redis = new Map<string, RedisConnection>()
  for (const c of connections.values()) {
    const conn = await c
    redis.set(conn.url, conn)
  }
  let closing: Promise<void> | undefined
  return {
    ports: ports as Ports,
    prepared,
    redis,
    close: () => (closing ??= closeAll()),
  }
}
