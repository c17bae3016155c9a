/**
 * A local S3 server for tests: s3rver (a Node implementation of the S3 REST API) on an unused
 * 127.0.0.1 port with its data in a temp folder, plus the S3 target that reaches it.
 *
 * NB: s3rver accepts any V4 signature without checking it (its V2 check is the only real one),
 * so what a presigned URL signs is checked by `sigv4Proxy` below, which recomputes the signature
 * by AWS's documented algorithm before passing the request on.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { S3Target } from '../../src/config/urls.ts'

const childScript = fileURLToPath(new URL('./s3rver-child.mjs', import.meta.url))

/** s3rver's built-in account. */
export const S3RVER_KEY = 'S3RVER'
export const S3RVER_SECRET = 'S3RVER'

export interface LocalS3 {
  /** `http://127.0.0.1:PORT` */
  endpoint: string
  /** An `s3://` URL for the bucket (path style, s3rver's keys). */
  url(bucket: string): string
  target(bucket: string): S3Target
  close(): Promise<void>
}

/**
 * Starts s3rver in a child process (see s3rver-child.mjs for why) with `buckets` made; `close()`
 * stops it and removes its folder.
 */
export async function startS3rver(buckets: string[]): Promise<LocalS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 'plinth-s3rver-'))
  const child = spawn(process.execPath, ['--openssl-legacy-provider', childScript, directory, ...buckets], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /^(\d+)\n/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening`)))
  })
  const endpoint = `http://127.0.0.1:${port}`
  return {
    endpoint,
    url: (bucket) => `s3://${S3RVER_KEY}:${S3RVER_SECRET}@${bucket}?endpoint=${encodeURIComponent(endpoint)}&forcePathStyle=true&region=us-east-1`,
    target: (bucket) => ({
      engine: 's3',
      bucket,
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      accessKeyId: S3RVER_KEY,
      secretAccessKey: S3RVER_SECRET,
    }),
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      await rm(directory, { recursive: true, force: true })
    },
  }
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest()
const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * Whether a request to a presigned (query-string SigV4) URL carries a valid signature for
 * `secret`: AWS's canonical request over the method, path, query without X-Amz-Signature, and
 * the signed headers as received; unexpired at `now`.
 */
export function checkPresigned(req: Pick<IncomingMessage, 'method' | 'url' | 'headers'>, secret: string, now = Date.now()): string | undefined {
  const u = new URL(req.url!, 'http://x')
  const q = u.searchParams
  const signature = q.get('X-Amz-Signature')
  const date = q.get('X-Amz-Date')
  const credential = q.get('X-Amz-Credential')
  const signed = q.get('X-Amz-SignedHeaders')
  if (!signature || !date || !credential || !signed) return 'not presigned'
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(date)!
  const start = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
  if (now > start + Number(q.get('X-Amz-Expires')) * 1000) return 'expired'
  const query = [...q.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .sort()
    .join('&')
  const names = signed.split(';')
  const headers = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('')
  const canonical = [req.method, u.pathname, query, headers, signed, 'UNSIGNED-PAYLOAD'].join('\n')
  const scope = credential.split('/').slice(1).join('/')
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n')
  const [day, region, service] = scope.split('/')
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day!), region!), service!), 'aws4_request')
  const expected = hmac(key, toSign)
  const given = Buffer.from(signature, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'signature does not match'
}

/**
 * A proxy in front of `upstream` that answers 403 to any presigned request whose signature
 * `checkPresigned` refuses, and passes everything else on unchanged.
 */
export async function sigv4Proxy(upstream: string, secret: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const target = new URL(upstream)
  const server: Server = createServer((req, res) => {
    const problem = req.url?.includes('X-Amz-Signature=') ? checkPresigned(req, secret) : undefined
    if (problem) {
      req.resume()
      res.writeHead(403, { 'content-type': 'text/plain' }).end(problem)
      return
    }
    const out = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
