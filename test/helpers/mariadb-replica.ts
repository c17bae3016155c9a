/**
 * Real MariaDB instances a test starts on ports of its own and stops afterwards: a primary with
 * its binary log on (log_bin, server_id) and a GTID replica of it (MASTER_USE_GTID=slave_pos, with
 * MASTER_DELAY for real lag). Each is its own mariadbd with its own datadir (mariadb-install-db),
 * so a test may stop its primary without touching the shared server on 3306.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { unusedPort } from './redis.ts'

const run = promisify(execFile)
const MARIADBD = '/usr/sbin/mariadbd'

/** Why MariaDB instances cannot be started here, or undefined when they can. */
export function mariadbReplicaSkip(): string | undefined {
  if (!existsSync(MARIADBD) || !existsSync('/usr/bin/mariadb-install-db')) return 'no MariaDB server binaries (mariadbd, mariadb-install-db)'
  if (process.getuid?.() !== 0) return 'starting MariaDB instances needs root (to run them as the mysql user)'
  return undefined
}

export interface MariaInstance {
  readonly port: number
  /** A URL for `database` on this instance, as root over TCP. */
  url(database: string): string
  /** Runs SQL as root over the instance's socket; returns the tab-separated output. */
  sql(statements: string): Promise<string>
  stop(): Promise<void>
  start(): Promise<void>
  destroy(): Promise<void>
}

async function startMariadb(serverId: number): Promise<MariaInstance> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plinth-maria-'))
  const data = path.join(dir, 'data')
  chownSync(dir, Number((await run('id', ['-u', 'mysql'])).stdout.trim()), Number((await run('id', ['-g', 'mysql'])).stdout.trim()))
  await run('mariadb-install-db', ['--no-defaults', '--user=mysql', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db'])
  const port = await unusedPort()
  const socket = path.join(dir, 'mysqld.sock')
  let child: ChildProcess | undefined
  const sql = async (statements: string) => (await run('mariadb', ['--no-defaults', '-S', socket, '-u', 'root', '-N', '-B', '-e', statements])).stdout
  const start = async () => {
    child = spawn(MARIADBD, [
      '--no-defaults', '--user=mysql', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${socket}`,
      `--pid-file=${path.join(dir, 'mysqld.pid')}`, `--log-error=${path.join(dir, 'error.log')}`,
      `--server-id=${serverId}`, `--log-bin=${path.join(dir, 'binlog')}`, '--log-slave-updates', '--binlog-format=ROW',
      '--innodb-buffer-pool-size=32M', '--skip-name-resolve', '--max-connections=200',
    ], { stdio: 'ignore' })
    for (let i = 0; i < 600; i++) {
      if (await sql('select 1').then(() => true, () => false)) return
      if (child.exitCode !== null) throw new Error(`mariadbd exited (see ${path.join(dir, 'error.log')})`)
      await sleep(100)
    }
    throw new Error('mariadbd did not answer within 60 s')
  }
  const stop = async () => {
    const c = child
    if (!c || c.exitCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGTERM')
    await exited
  }
  await start()
  // Root over TCP without a password, kept out of the binary log (each instance makes its own).
  await sql("set sql_log_bin = 0; create user if not exists 'root'@'127.0.0.1'; grant all on *.* to 'root'@'127.0.0.1' with grant option")
  return {
    port,
    url: (database) => `mysql://root@127.0.0.1:${port}/${database}`,
    sql,
    stop,
    start,
    async destroy() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A primary of its own with its binary log on. */
export function startMariaPrimary(): Promise<MariaInstance> {
  return startMariadb(1)
}

/** A GTID replica of `primary`, applying each transaction `delaySeconds` after the primary committed it. */
export async function startMariaReplica(primary: MariaInstance, serverId = 2, delaySeconds = 0): Promise<MariaInstance> {
  const replica = await startMariadb(serverId)
  await replica.sql(
    `change master to master_host='127.0.0.1', master_port=${primary.port}, master_user='root', master_password='', master_use_gtid=slave_pos, master_delay=${delaySeconds}, master_connect_retry=1; start slave`,
  )
  return replica
}
