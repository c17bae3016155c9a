/**
 * Real PostgreSQL instances a test starts on ports of its own and stops afterwards: a streaming
 * replica (pg_basebackup of a running primary, then the Debian server binaries as the postgres OS
 * user), and a throwaway primary (initdb) for tests that stop their primary (never the shared one
 * on 5432, which other test files use at the same time).
 *
 * The shared primary must accept replication connections from 127.0.0.1 (scripts/services.sh sets
 * that up). When the binaries or the replication login are missing, `pgReplicaSkip` says why.
 */
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { PG_ADMIN_URL } from './engines.ts'
import { unusedPort } from './redis.ts'

const run = promisify(execFile)

/** The newest Debian PostgreSQL server binaries, e.g. /usr/lib/postgresql/15/bin. */
export function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(a) - Number(b))
  return versions.length ? path.join(root, versions.at(-1)!, 'bin') : undefined
}

/** Why replica tests cannot run here, or undefined when they can. */
export async function pgReplicaSkip(): Promise<string | undefined> {
  const bin = pgBin()
  if (!bin) return 'no PostgreSQL server binaries under /usr/lib/postgresql'
  if (process.getuid?.() !== 0) return 'starting PostgreSQL instances needs root (to run them as the postgres user)'
  try {
    const u = new URL(PG_ADMIN_URL)
    await run('psql', ['-h', u.hostname, '-p', u.port || '5432', '-U', 'postgres', '-w', 'replication=true', '-Atc', 'IDENTIFY_SYSTEM'])
  } catch (err) {
    return `the PostgreSQL primary refuses replication connections (run scripts/services.sh): ${(err as Error).message.split('\n')[0]}`
  }
  return undefined
}


/** Runs a server binary as the postgres OS user (PostgreSQL refuses to run as root). */
async function asPostgres(bin: string, args: string[]): Promise<string> {
  const { stdout } = await run('runuser', ['-u', 'postgres', '--', path.join(pgBin()!, bin), ...args], { maxBuffer: 1 << 22 })
  return stdout
}

export interface PgInstance {
  readonly port: number
  readonly dir: string
  /** A URL for `database` on this instance. */
  url(database: string): string
  /** Stops the server (fast: clients are cut, nothing is lost that was committed). */
  stop(): Promise<void>
  /** Starts it again after `stop`. */
  start(): Promise<void>
  /** Promotes a replica to a primary (`pg_ctl promote`). */
  promote(): Promise<void>
  /** Stops it and removes its folder. */
  destroy(): Promise<void>
}

function instance(dir: string, port: number): PgInstance {
  let running = true
  const ctl = (...args: string[]) => asPostgres('pg_ctl', ['-D', dir, '-w', '-t', '60', ...args])
  return {
    port,
    dir,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async stop() {
      if (!running) return
      await ctl('-m', 'fast', 'stop')
      running = false
    },
    async start() {
      if (running) return
      await ctl('-l', path.join(dir, 'server.log'), 'start')
      running = true
    },
    async promote() {
      await ctl('promote')
    },
    async destroy() {
      await ctl('-m', 'immediate', 'stop').catch(() => undefined)
      running = false
      rmSync(path.dirname(dir), { recursive: true, force: true })
    },
  }
}

/** A folder the postgres user owns, mode 0700 as PostgreSQL requires. */
function dataDir(name: string): string {
  const parent = mkdtempSync(path.join(tmpdir(), `plinth-${name}-`))
  chownSync(parent, uidOf('postgres'), gidOf('postgres'))
  return parent
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim())
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim())
}

/** Settings every instance here gets: its own port and socket folder, replication allowed from 127.0.0.1. */
function writeConfig(dir: string, port: number, extra: string[] = []): void {
  writeFileSync(
    path.join(dir, 'postgresql.conf'),
    [`port = ${port}`, `listen_addresses = '127.0.0.1'`, `unix_socket_directories = '${dir}'`, 'wal_level = replica', 'max_wal_senders = 10', 'hot_standby = on', 'fsync = off', 'shared_buffers = 16MB', ...extra].join('\n') + '\n',
  )
  // A standby needs max_connections (and the like) at least as high as its primary's: the defaults are kept.
  writeFileSync(path.join(dir, 'pg_ident.conf'), '')
  writeFileSync(path.join(dir, 'pg_hba.conf'), ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'].join('\n') + '\n')
  chownSync(path.join(dir, 'postgresql.conf'), uidOf('postgres'), gidOf('postgres'))
  for (const f of ['pg_hba.conf', 'pg_ident.conf']) chownSync(path.join(dir, f), uidOf('postgres'), gidOf('postgres'))
}

/** A fresh primary of its own (initdb), for tests that stop it. */
export async function startPgPrimary(): Promise<PgInstance> {
  const dir = path.join(dataDir('pg-primary'), 'data')
  const port = await unusedPort()
  await asPostgres('initdb', ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'])
  writeConfig(dir, port)
  const pg = instance(dir, port)
  await asPostgres('pg_ctl', ['-D', dir, '-w', '-t', '60', '-l', path.join(dir, 'server.log'), 'start'])
  return pg
}

export interface ReplicaOptions {
  /** `recovery_min_apply_delay`: the replica applies each commit this long after it happened (real lag). */
  applyDelayMs?: number
}

/** A streaming replica of the primary at `primary` (host:port, user postgres), on a port of its own. */
export async function startPgReplica(primary: { host: string; port: number }, opts: ReplicaOptions = {}): Promise<PgInstance> {
  const dir = path.join(dataDir('pg-replica'), 'data')
  const port = await unusedPort()
  // -R writes standby.signal and primary_conninfo; -X stream copies the WAL written meanwhile.
  await asPostgres('pg_basebackup', ['-h', primary.host, '-p', String(primary.port), '-U', 'postgres', '-D', dir, '-R', '-X', 'stream', '-c', 'fast'])
  writeConfig(dir, port, opts.applyDelayMs ? [`recovery_min_apply_delay = '${opts.applyDelayMs}ms'`] : [])
  const pg = instance(dir, port)
  await asPostgres('pg_ctl', ['-D', dir, '-w', '-t', '60', '-l', path.join(dir, 'server.log'), 'start'])
  return pg
}

/** The shared primary (PG_ADMIN_URL) as host and port, for `startPgReplica`. */
export function sharedPgPrimary(): { host: string; port: number } {
  const u = new URL(PG_ADMIN_URL)
  return { host: u.hostname, port: Number(u.port || 5432) }
}
