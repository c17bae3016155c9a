/** The load generator: autocannon's own CLI in its own process, so it never shares a core's event loop with a server. */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { BenchRequest, LoadOptions, LoadResult } from './types.ts'

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js')
const UNIQUE = fileURLToPath(new URL('./autocannon-unique.mjs', import.meta.url))
const SIGNED = fileURLToPath(new URL('./autocannon-signed.mjs', import.meta.url))
/** A request slower than this counts as an error; with `amount` it is not 10 s (autocannon's default), as PocketBase's client waits as long as it takes. */
const TIMEOUT_SEC = 120
/**
 * autocannon ends a run at its next sample tick (1 s by default), so a run of a fixed amount
 * would last at least 1 s; ticking every millisecond makes its wall time the requests' own.
 */
const AMOUNT_SAMPLE_MS = 1
/** A warm-up before a fixed amount sends as many requests, and at least this many, so a case of 25 does not measure a cold server. */
const MIN_WARMUP_AMOUNT = 200

export interface AutocannonJson {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number }
  non2xx: number
  errors: number
  timeouts: number
  start: string
  finish: string
}

/** Runs `node ARGS` (autocannon or one of bench/lib's generators) and resolves with the JSON it prints. */
export function runAutocannon<T extends AutocannonJson = AutocannonJson>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.once('error', reject)
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err.trim()}`))
      try {
        resolve(JSON.parse(out) as T)
      } catch {
        reject(new Error(`autocannon printed no JSON: ${out.slice(0, 200)} ${err.slice(0, 200)}`))
      }
    })
  })
}

/**
 * Repeats `request` against `baseUrl` (127.0.0.1 only) with `connections` connections for
 * `durationSec` seconds, after an unrecorded warm-up run. With `amount`, sends exactly that many
 * requests instead (the warm-up, if any, sends as many, at least MIN_WARMUP_AMOUNT) and
 * requests/s is the amount divided by the wall time, the way PocketBase's benchmark reports.
 */
export async function measure(baseUrl: string, request: BenchRequest, opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(request.path, baseUrl)
  if (url.hostname !== '127.0.0.1') throw new Error(`bench targets must be on 127.0.0.1, not ${url.hostname}`)
  const method = request.method ?? 'GET'
  const common = [AUTOCANNON, '--json', '--no-progress', '-c', String(opts.connections), '-m', method]
  for (const [k, v] of Object.entries(request.headers ?? {})) common.push('-H', `${k}=${v}`)
  if (request.body !== undefined) common.push('-b', request.body)
  const args = (sec: number, amount?: number) =>
    request.signWith
      ? ['--import', 'tsx', SIGNED, JSON.stringify({ url: url.href, connections: opts.connections, duration: sec, headers: request.headers ?? {}, key: request.signWith === 'unsigned-control' ? undefined : request.signWith })]
      : request.uniqueIds
      ? [UNIQUE, JSON.stringify({ url: url.href, connections: opts.connections, duration: sec, amount, ...(amount ? { timeout: TIMEOUT_SEC, sampleInt: AMOUNT_SAMPLE_MS } : {}), method, headers: request.headers ?? {}, body: request.body ?? '' })]
      : [...common, ...(amount ? ['-a', String(amount), '-t', String(TIMEOUT_SEC), '-L', String(AMOUNT_SAMPLE_MS)] : ['-d', String(sec)]), url.href]
  if (opts.warmupSec > 0) await runAutocannon(args(opts.warmupSec, opts.amount && Math.max(opts.amount, MIN_WARMUP_AMOUNT)))
  const r = await runAutocannon(args(opts.durationSec, opts.amount))
  const wallSec = (Date.parse(r.finish) - Date.parse(r.start)) / 1000
  return {
    requestsPerSec: opts.amount ? r.requests.total / wallSec : r.requests.average,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  }
}
