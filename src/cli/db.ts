import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import type { PlinthConfig } from '../config/schema.ts'
import { maskUrl, parseDbUrl, type ServerTarget } from '../config/urls.ts'
import { StartupError } from '../config/errors.ts'
import { createLogger } from '../log.ts'
import type { AnyDescriptor } from '../ports.ts'
import type { Bus } from '../bus/bus.ts'
import { configuredInstances, readSwitchedPrimary, writeSwitchedPrimary } from '../sql/cluster.ts'
import { SqlRouter, sameUrl, type SqlMember } from '../sql/router.ts'
import { isReplicating, PRIMARY_TOPIC } from '../sql/switch.ts'
import { configFromFlags } from './load.ts'
import { dbUsage } from './db-usage.ts'
import type { CliFlags } from './main.ts'

/** How long `db status` watches positions, to measure lag. */
const SAMPLE_MS = 2000

/** `plinth db ...`. */
export async function dbCommand(flags: CliFlags, args: string[]): Promise<number> {
  const config = configFromFlags(flags)
  const [sub, url] = args
  if (sub === 'status' && args.length === 1) return status(config)
  if (sub === 'switch-primary' && url && args.length === 2) return switchPrimary(config, url)
  if (sub === 'copy' && args.length === 1) return (await import('./db-copy.ts')).dbCopy(config, flags)
  process.stderr.write(dbUsage)
  return 2
}

/** Opens every configured instance without requiring any to answer; the primary is the switched one if recorded. */
async function openAll(config: Readonly<PlinthConfig>): Promise<SqlRouter> {
  const { openSql, openSqlUnchecked } = await import('../sql/open.ts')
  const switched = readSwitchedPrimary(config.dir)
  const all = configuredInstances(config)
  const primaryUrl = switched && all.some((i) => sameUrl(i.url, switched)) ? switched : config.db
  const members: (SqlMember & { role: string })[] = []
  for (const i of [...all.filter((x) => sameUrl(x.url, primaryUrl)), ...all.filter((x) => !sameUrl(x.url, primaryUrl))]) {
    const target = parseDbUrl(i.url, 'db')
    const engine = target.engine === 'sqlite' ? await openSql(target) : await openSqlUnchecked(target as ServerTarget, { limits: { ...config, poolSize: 1, poolTimeout: 2000 } })
    members.push({ url: i.url, engine, role: i.role })
  }
  const [primary, ...rest] = members
  const dr = rest.find((m) => m.role === 'dr')
  return new SqlRouter(primary!, rest.filter((m) => m !== dr), dr, { maxReplicaLag: config.dbMaxReplicaLag })
}

async function status(config: Readonly<PlinthConfig>): Promise<number> {
  const router = await openAll(config)
  try {
    const end = Date.now() + (router.replicated ? SAMPLE_MS : 0)
    do {
      await router.probe()
      if (Date.now() < end) await sleep(200)
    } while (Date.now() < end)
    const rows = [['ROLE', 'URL', 'REACHABLE', 'REPLICATING', 'POSITION', 'LAG']]
    for (const m of router.instances()) {
      // The configured primary, once a switch moved writes away from it, as the nodes see it.
      const role = m.role === 'replica' && sameUrl(m.url, config.db) ? 'retired' : m.role
      const replicating = m.up ? await isReplicating(m.engine).catch(() => undefined) : undefined
      const lag = role === 'primary' || role === 'retired' ? '-' : !m.up || m.position === undefined ? '?' : m.lagMs >= 60_000 ? `>${SAMPLE_MS}ms` : `${m.lagMs}ms`
      rows.push([role, maskUrl(m.url), m.up ? 'yes' : `no (${m.error ?? 'unreachable'})`, replicating === undefined ? '?' : replicating ? 'yes' : 'no', m.position === undefined ? '-' : String(m.position), lag])
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
    process.stdout.write(rows.map((r) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n')
    return router.instances()[0]!.up ? 0 : 1
  } finally {
    await router.close()
  }
}

async function switchPrimary(config: Readonly<PlinthConfig>, url: string): Promise<number> {
  const known = configuredInstances(config).find((i) => sameUrl(i.url, url))
  if (!known) throw new StartupError(`db: ${maskUrl(url)} is not one of the configured instances (db, dbReplicas, dbDr)`)
  const router = await openAll(config)
  try {
    const target = router.instances().find((m) => sameUrl(m.url, url))!
    const replicating = await isReplicating(target.engine).catch((err: Error) => {
      throw new StartupError(`db: ${maskUrl(url)} does not answer: ${err.message}`)
    })
    // Writing to an instance that still follows another would fail on every write (read-only), or worse.
    if (replicating) throw new StartupError(`db: ${maskUrl(url)} is still a replica; promote it first (PostgreSQL: pg_ctl promote; MariaDB: STOP SLAVE; RESET SLAVE ALL)`)
  } finally {
    await router.close()
  }
  const { openPorts, portList } = await import('../ports.ts')
  const busOnly = (portList as readonly AnyDescriptor[]).filter((d) => d.key === 'bus')
  const log = createLogger(config, pino.destination({ dest: 2, sync: true }))
  const opened = await openPorts(config, { log, metrics: new (await import('../metrics.ts')).Metrics() }, busOnly)
  try {
    const bus = opened.ports.bus as Bus
    await bus.publish(PRIMARY_TOPIC, known.url)
    writeSwitchedPrimary(config.dir, known.url)
    process.stdout.write(`writes now go to ${maskUrl(known.url)} on every node listening on the bus (${bus.name}); recorded in ${config.dir}/db-primary\n`)
    if (!bus.reachesOtherNodes) process.stdout.write('note: the bus is in-process (no redis): running nodes learn of it only when restarted\n')
    return 0
  } finally {
    await opened.close()
  }
}
