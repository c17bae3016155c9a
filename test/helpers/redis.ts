/**
 * Redis for the contract suites: the test server (db 15 unless PLINTH_TEST_REDIS says otherwise),
 * a unique key prefix per engine under test so parallel runs never collide (never FLUSHALL), an
 * admin connection for what a test does to the server (kill a client, read a PTTL), a port where
 * nothing listens, and a log that records what the engines say.
 *
 * As with SQL servers (`engines.ts`): a Redis that does not answer skips its suites with a loud
 * line, except under PLINTH_REQUIRE_SERVICES=1 (CI), where that fails the run.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { RedisLog } from '../../src/redis/client.ts'

export const REDIS_TEST_URL = process.env.PLINTH_TEST_REDIS ?? 'redis://127.0.0.1:6379/15'
const requireServices = process.env.PLINTH_REQUIRE_SERVICES === '1'

/** A fresh namespace (`plinth-test:<pid>:<random>:`) for one engine under test. */
export function testPrefix(): string {
  return `plinth-test:${process.pid}:${randomBytes(4).toString('hex')}:`
}

/** A plain ioredis client on the test server, for the test's own commands. Close it with `quit()`. */
export async function adminRedis(): Promise<Redis> {
  const { Redis } = await import('ioredis')
  const u = new URL(REDIS_TEST_URL)
  const client = new Redis({
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    username: u.username || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    connectTimeout: 3000,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** Deletes every key that starts with `prefix` (SCAN, not KEYS, and never FLUSHALL). */
export async function deleteKeys(admin: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500)
    if (keys.length) await admin.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

/**
 * Moves time forward by `ms` for every key under `prefix`, as a server engine's stand-in for an
 * injected clock: each key's expiry is shortened by `ms` (deleted when it would end), in one
 * script per key so the read and the write see the same PTTL.
 */
export async function advanceKeys(admin: Redis, prefix: string, ms: number): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500)
    for (const k of keys) await admin.eval(ADVANCE, 1, k, String(ms))
    cursor = next
  } while (cursor !== '0')
}

const ADVANCE = `
local t = redis.call('PTTL', KEYS[1])
if t < 0 then return 0 end
if t <= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], t - tonumber(ARGV[1])) end
return 1
`

/** Escapes a literal for a Redis glob pattern. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&')
}

let probed: Promise<string | false> | undefined

/**
 * A node:test skip reason when the test Redis does not answer, else false; probed once.
 * Throws under PLINTH_REQUIRE_SERVICES=1 instead of skipping.
 */
export async function redisSkip(): Promise<string | false> {
  probed ??= (async () => {
    try {
      const admin = await adminRedis()
      await admin.ping()
      await admin.quit()
      return false as const
    } catch (err) {
      return `redis unreachable at ${REDIS_TEST_URL}: ${(err as Error).message}`
    }
  })()
  const why = await probed
  if (why && requireServices) throw new Error(`PLINTH_REQUIRE_SERVICES=1 but ${why}`)
  if (why) process.stderr.write(`\n!!! SKIPPING redis suites: ${why}\n!!! run scripts/services.sh to start it\n\n`)
  return why
}

/** A TCP port on 127.0.0.1 where nothing listens (bound, then released). */
/** The kernel's range for outgoing connections' local ports (Linux), else its default. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low && high) return [low, high]
  } catch {
    // not Linux: the usual range
  }
  return [32768, 60999]
}

/**
 * A port free now, below the ephemeral range: a server started there later (or restarted there
 * by a rolling deploy) cannot find it taken by an outgoing connection (to PostgreSQL, Redis...)
 * that the kernel gave the same local port, as happens with a port from `listen(0)`.
 */
export async function unusedPort(): Promise<number> {
  const [low] = ephemeralRange()
  const floor = Math.min(10_000, low - 1000)
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor))
    const server = createServer()
    const bound = await new Promise<boolean>((resolve) => server.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true)))
    if (!bound) continue
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }
  throw new Error('no free port below the ephemeral range')
}

export interface LogLine {
  level: 'warn' | 'info' | 'error'
  msg: string
  obj: Record<string, unknown>
}

/** A log that records every line, and lets a test wait for a message (an event, not a sleep). */
export interface CapturedLog extends RedisLog {
  error(obj: Record<string, unknown>, msg: string): void
  lines: LogLine[]
  /** Resolves when `msg` has been logged `count` times in all (default: once more than now). */
  waitFor(msg: string, count?: number): Promise<void>
}

export function captureLog(): CapturedLog {
  const lines: LogLine[] = []
  const waiters: { msg: string; count: number; resolve: () => void }[] = []
  const seen = (msg: string) => lines.filter((l) => l.msg === msg).length
  const record = (level: LogLine['level']) => (obj: Record<string, unknown>, msg: string) => {
    lines.push({ level, msg, obj })
    for (const w of [...waiters]) {
      if (seen(w.msg) >= w.count) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
  return {
    lines,
    warn: record('warn'),
    info: record('info'),
    error: record('error'),
    waitFor(msg, count = seen(msg) + 1) {
      if (seen(msg) >= count) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ msg, count, resolve }))
    },
  }
}

/**
 * A stand-in Redis server that answers the connection handshake and simple commands, until
 * `goSilent()`: from then on the sockets open at that moment stay open and answer nothing, as a
 * server behind a network partition does (no RST, no FIN). Later connections are answered again.
 */
export async function partitionedRedis(): Promise<{ url: string; goSilent(): void; close(): Promise<void> }> {
  const { createServer: createTcpServer } = await import('node:net')
  const silent = new Set<import('node:net').Socket>()
  const open = new Set<import('node:net').Socket>()
  const server = createTcpServer((socket) => {
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => {})
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      for (;;) {
        const parsed = parseCommand(buffered)
        if (!parsed) break
        buffered = buffered.subarray(parsed.length)
        if (silent.has(socket)) continue
        const name = parsed.args[0]?.toUpperCase()
        if (name === 'INFO') socket.write(bulk('# Server\r\nloading:0\r\n'))
        else if (name === 'PING') socket.write('+PONG\r\n')
        else if (name === 'GET') socket.write('$-1\r\n')
        else socket.write('+OK\r\n')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as import('node:net').AddressInfo
  return {
    url: `redis://127.0.0.1:${address.port}`,
    goSilent: () => open.forEach((s) => silent.add(s)),
    close: async () => {
      open.forEach((s) => s.destroy())
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`
}

/** One RESP command (an array of bulk strings) from the front of `buf`, or undefined if incomplete. */
function parseCommand(buf: Buffer): { args: string[]; length: number } | undefined {
  let pos = 0
  const line = () => {
    const end = buf.indexOf('\r\n', pos)
    if (end < 0) return undefined
    const text = buf.toString('latin1', pos, end)
    pos = end + 2
    return text
  }
  const head = line()
  if (head === undefined || head[0] !== '*') return undefined
  const args: string[] = []
  for (let i = 0; i < Number(head.slice(1)); i++) {
    const len = line()
    if (len === undefined) return undefined
    const n = Number(len.slice(1))
    if (buf.length < pos + n + 2) return undefined
    args.push(buf.toString('utf8', pos, pos + n))
    pos += n + 2
  }
  return { args, length: pos }
}
