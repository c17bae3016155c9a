/**
 * Files (#12): `GET /api/files/...` of a 100 KB file and of a cached 100x100 thumb, Plinth (SQLite,
 * local storage) against a bare node:http server streaming the same stored files from the same
 * folder. And one upload of a large file through the records API, to the local engine and to S3
 * (s3rver), with the server's peak RSS growth (VmHWM from /proc), to show uploads are streamed,
 * not held in memory.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { asAdmin, freshDb, once, QUIET, unavailable, adminOn, upsertSuperuser } from '../lib/seed.ts'
import { measure } from '../lib/load.ts'
import { cpuSeconds, ROOT, spawnServer, startPlinth } from '../lib/servers.ts'
import { startS3rver } from '../../test/helpers/s3.ts'
import type { BenchRequest, Figure, MeasuredScenario, Scenario, Target } from '../lib/types.ts'

interface Seed {
  dbUrl: string
  filesDir: string
  /** Paths under the files folder (the store key) and the API path of the same object. */
  file: { key: string; api: string }
  thumb: { key: string; api: string }
}

const FILE_BYTES = 100 * 1024

async function upload(url: string, token: string, parts: [string, Blob, string][]): Promise<Record<string, string>> {
  const form = new FormData()
  for (const [name, blob, filename] of parts) form.append(name, blob, filename)
  const res = await fetch(`${url}/api/collections/media/records`, { method: 'POST', body: form, headers: { authorization: token } })
  if (!res.ok) throw new Error(`upload: ${res.status} ${await res.text()}`)
  return (await res.json()) as Record<string, string>
}

const seed = once(async (_engine: 'sqlite'): Promise<Seed> => {
  const dbUrl = await freshDb('sqlite')
  const filesDir = mkdtempSync(path.join(tmpdir(), 'plinth-bench-files-'))
  return asAdmin(dbUrl, async (admin) => {
    const c = await admin.call<{ id: string }>('POST', '/api/collections', {
      name: 'media', viewRule: '', listRule: '',
      fields: [{ name: 'blob', type: 'file', maxSelect: 1, maxSize: 1 << 20 }, { name: 'image', type: 'file', maxSelect: 1 }],
    })
    const { default: sharp } = await import('sharp')
    const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer()
    const rec = await upload(admin.url, admin.token, [['blob', new Blob([randomBytes(FILE_BYTES)]), 'data.bin'], ['image', new Blob([png]), 'photo.png']])
    const base = `${c.id}/${rec.id}`
    const thumbApi = `/api/files/media/${rec.id}/${rec.image}?thumb=100x100`
    const made = await fetch(`${admin.url}${thumbApi}`)
    if (!made.ok) throw new Error(`thumb: ${made.status}`)
    await made.arrayBuffer()
    return {
      dbUrl,
      filesDir,
      file: { key: `${base}/${rec.blob}`, api: `/api/files/media/${rec.id}/${rec.blob}` },
      thumb: { key: `${base}/thumbs_${rec.image}/100x100_${rec.image}`, api: thumbApi },
    }
  }, { PLINTH_FILES: `file://${filesDir}` })
})

function targets(pick: (s: Seed) => { key: string; api: string }): Target[] {
  return [
    {
      name: 'node-static',
      notes: 'node:http + fs.createReadStream of the same stored file (bench/servers/static-files.mjs): no rules, ranges or validators',
      skip: () => unavailable('sqlite'),
      start: async () => spawnServer({ args: [path.join(ROOT, 'bench/servers/static-files.mjs'), (await seed('sqlite')).filesDir, '{port}'] }),
      request: async (): Promise<BenchRequest> => ({ path: `/${pick(await seed('sqlite')).key}` }),
    },
    {
      name: 'plinth',
      notes: 'plinth serve on SQLite, local files, PLINTH_LOG_LEVEL=warn',
      skip: () => unavailable('sqlite'),
      start: async () => {
        const s = await seed('sqlite')
        return startPlinth({ PLINTH_DB: s.dbUrl, PLINTH_FILES: `file://${s.filesDir}`, ...QUIET })
      },
      request: async (): Promise<BenchRequest> => ({ path: pick(await seed('sqlite')).api }),
    },
  ]
}

const serve: Scenario[] = [
  { name: 'files-100k', group: 'files', description: 'GET /api/files/... of a 100 KB file (a public record, no token)', reference: 'node-static', targets: targets((s) => s.file) },
  { name: 'files-thumb', group: 'files', description: 'GET /api/files/...?thumb=100x100 of a thumb made before the run', reference: 'node-static', targets: targets((s) => s.thumb) },
]

const CPU_REQUESTS = Number(process.env.BENCH_CPU_REQUESTS ?? 20_000)

/**
 * CPU per request of the same two paths, each server's own CPU time (all its threads, from /proc)
 * over a fixed number of requests: unlike requests/s, it does not depend on how the scheduler
 * shares a busy machine between a single-threaded server and one whose work spreads over libuv's
 * thread pool.
 */
const cpuScenario: MeasuredScenario = {
  name: 'files-cpu',
  group: 'files',
  description: `CPU time per request (${CPU_REQUESTS} requests, 20 connections) of the 100 KB file and the cached thumb, Plinth against the static server`,
  skip: () => unavailable('sqlite'),
  async measure(): Promise<Figure[]> {
    const figures: Figure[] = []
    const cases = [['100 KB file', (s: Seed) => s.file], ['cached thumb', (s: Seed) => s.thumb]] as const
    for (const [label, pick] of cases) {
      const [reference, plinth] = targets(pick)
      for (const target of [reference!, plinth!]) {
        const server = await target.start()
        try {
          const request = await target.request(server)
          const opts = { connections: 20, durationSec: 1, warmupSec: 1, amount: 2000 }
          await measure(server.url, request, opts)
          const before = cpuSeconds(server.pid!)
          await measure(server.url, request, { ...opts, warmupSec: 0, amount: CPU_REQUESTS })
          const us = ((cpuSeconds(server.pid!) - before) / CPU_REQUESTS) * 1e6
          figures.push({ name: `${label}: ${target.name}`, value: Math.round(us), unit: 'us/req', reference: `${label}: node-static` })
        } finally {
          await server.stop()
        }
      }
    }
    return figures
  },
}

const UPLOAD_MB = Number(process.env.BENCH_UPLOAD_MB ?? 256)

/** Peak and current RSS of a process, in MiB (VmHWM, VmRSS). */
function rss(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN)
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 }
}

/** The upload through Plinth to the local engine or to S3 (s3rver, test/helpers/s3.ts, in its own process). */
const uploadScenario = (engine: 'local' | 's3'): MeasuredScenario => ({
  name: engine === 'local' ? 'files-upload' : 'files-upload-s3',
  group: 'files',
  description: `one ${UPLOAD_MB} MiB upload through POST /api/collections/{c}/records (multipart, streamed from the client) to the ${engine === 'local' ? 'local engine' : 'S3 engine (s3rver)'}, the server's peak RSS growth`,
  skip: () => unavailable('sqlite'),
  async measure(): Promise<Figure[]> {
    const dbUrl = await freshDb('sqlite')
    const filesDir = mkdtempSync(path.join(tmpdir(), 'plinth-bench-upload-'))
    const s3 = engine === 's3' ? await startS3rver(['bench-upload']) : undefined
    const plinth = await startPlinth({ PLINTH_DB: dbUrl, PLINTH_FILES: s3 ? s3.url('bench-upload') : `file://${filesDir}`, PLINTH_BODY_LIMIT: String((UPLOAD_MB + 1) << 20), PLINTH_REQUEST_TIMEOUT: '600000', ...QUIET })
    try {
      upsertSuperuser(dbUrl)
      const admin = await adminOn(plinth.url)
      await admin.call('POST', '/api/collections', { name: 'big', createRule: '', fields: [{ name: 'f', type: 'file', maxSelect: 1, maxSize: (UPLOAD_MB + 1) << 20 }] })
      const before = rss(plinth.pid!)
      const boundary = 'benchboundary'
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`)
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
      const chunk = randomBytes(1 << 20)
      const started = performance.now()
      const status = await new Promise<number>((resolve, reject) => {
        const { port } = new URL(plinth.url)
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/collections/big/records', headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + UPLOAD_MB * chunk.length + tail.length,
        } }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        req.on('error', reject)
        let i = 0
        Readable.from((function* () {
          yield head
          for (; i < UPLOAD_MB; i++) yield chunk
          yield tail
        })()).pipe(req)
      })
      const seconds = (performance.now() - started) / 1000
      if (status !== 200) throw new Error(`upload answered ${status} `)
      const after = rss(plinth.pid!)
      return [
        { name: 'upload MiB/s', value: UPLOAD_MB / seconds, unit: 'MiB/s' },
        { name: 'peak RSS before', value: before.peak, unit: 'MiB' },
        { name: 'peak RSS growth', value: after.peak - before.peak, unit: 'MiB', notes: `for a ${UPLOAD_MB} MiB file` },
      ]
    } finally {
      await plinth.stop()
      await s3?.close()
      rmSync(filesDir, { recursive: true, force: true })
    }
  },
})

export default [...serve, cpuScenario, uploadScenario('local'), uploadScenario('s3')]
