/**
 * A local APNs: HTTP/2 over TLS (self-signed, see tls.ts) speaking Apple's provider API. It checks
 * what a real APNs checks and answers as Apple documents:
 * - `authorization: bearer <JWT>` verified with the developer key's public half (ES256, `kid` =
 *   key id, `iss` = team id, `iat` within the hour): else 403 `InvalidProviderToken` (or
 *   `ExpiredProviderToken` for an old `iat`);
 * - `:method` POST, `:path` /3/device/<hex token>, `apns-topic` present (400 `MissingTopic`),
 *   `apns-push-type` alert|background|voip..., `apns-priority` 10|5|1, `apns-expiration` digits,
 *   `apns-collapse-id` at most 64 bytes (400 `BadCollapseId`), a JSON body with `aps`
 *   (400 `PayloadEmpty` / `BadPayload`), at most 4096 bytes (413 `PayloadTooLarge`);
 * - per-token replies set by the test (`reply`), e.g. 400 `BadDeviceToken`, 410 `Unregistered`
 *   with a timestamp, 429 `TooManyRequests`, 503 `ServiceUnavailable`; else 200 with `apns-id`.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { exportPKCS8, generateKeyPair, jwtVerify, type CryptoKey } from 'jose'
import { selfSignedCert, type TestCert } from './tls.ts'

export const APNS_TEAM = 'TEAM123456'
export const APNS_KEY_ID = 'ABC123DEFG'

export interface SeenPush {
  token: string
  headers: IncomingHttpHeaders
  body: string
  status: number
}

export type ApnsReply = { status: number; reason?: string } | ((n: number) => { status: number; reason?: string })

export interface ApnsServer {
  url: string
  cert: TestCert
  keyFile: string
  seen: SeenPush[]
  /** Per device token: what to answer (a function gets how many times the token was seen). */
  reply: Map<string, ApnsReply>
  /** Distinct JWTs seen (the client must reuse one). */
  jwts: Set<string>
  /** TLS sessions opened by clients. */
  sessions: number
  /** Milliseconds to wait before answering each request. */
  delayMs: number
  /** When false, `seen` is not filled (long benchmarks); `count` still counts. */
  record: boolean
  count: number
  /** Ends every client connection, as Apple does to idle ones (GOAWAY, then close). */
  dropSessions(): void
  close(): Promise<void>
}

export async function startApns(dir: string, opts: { port?: number } = {}): Promise<ApnsServer> {
  const dev = await generateKeyPair('ES256', { extractable: true })
  const keyFile = path.join(mkdtempSync(path.join(dir, 'key-')), `AuthKey_${APNS_KEY_ID}.p8`)
  writeFileSync(keyFile, await exportPKCS8(dev.privateKey))
  const cert = selfSignedCert()
  const server: Http2SecureServer = createSecureServer({ cert: cert.cert, key: cert.key, settings: { maxConcurrentStreams: 1000 } })
  const perToken = new Map<string, number>()
  const verified = new Map<string, number>()
  const api: ApnsServer = {
    url: '',
    cert,
    keyFile,
    seen: [],
    reply: new Map(),
    jwts: new Set(),
    sessions: 0,
    delayMs: 0,
    record: true,
    count: 0,
    dropSessions: () => {
      for (const s of sessions) s.close()
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      cert.remove()
    },
  }
  const sessions = new Set<import('node:http2').ServerHttp2Session>()
  server.on('session', (s) => {
    api.sessions++
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
    // A client killed mid-send (the resume test SIGKILLs a worker) resets its connection: expected.
    s.on('error', () => undefined)
  })
  server.on('sessionError', () => undefined)
  const origClose = api.close
  api.close = async () => {
    for (const s of sessions) s.destroy()
    await origClose()
  }
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined)
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      void answer(stream, headers, body, dev.publicKey)
    })
  })
  const respond = (stream: ServerHttp2Stream, status: number, reason?: string, extra: Record<string, unknown> = {}) => {
    const send = () => {
      if (stream.destroyed) return
      stream.respond({ ':status': status, 'apns-id': randomUUID(), ...(reason ? { 'content-type': 'application/json' } : {}) })
      stream.end(reason ? JSON.stringify({ reason, ...extra }) : undefined)
    }
    if (api.delayMs) setTimeout(send, api.delayMs)
    else send()
  }
  const answer = async (stream: ServerHttp2Stream, h: IncomingHttpHeaders, body: string, pub: CryptoKey) => {
    const m = /^\/3\/device\/([0-9a-fA-F]+)$/.exec(String(h[':path']))
    const token = m?.[1] ?? ''
    api.count++
    let status = 200
    let reason: string | undefined
    const extra: Record<string, unknown> = {}
    const fail = (s: number, r: string) => {
      if (status === 200) {
        status = s
        reason = r
      }
    }
    if (h[':method'] !== 'POST') fail(405, 'MethodNotAllowed')
    if (!m) fail(404, 'BadPath')
    const auth = String(h.authorization ?? '')
    if (!auth.startsWith('bearer ')) fail(403, 'MissingProviderToken')
    else {
      const jwt = auth.slice(7)
      api.jwts.add(jwt)
      // A token verified once is remembered (its iat is still checked on every request).
      let iat = verified.get(jwt)
      if (iat === undefined) {
        try {
          const { payload, protectedHeader } = await jwtVerify(jwt, pub, { issuer: APNS_TEAM, algorithms: ['ES256'] })
          if (protectedHeader.kid !== APNS_KEY_ID || typeof payload.iat !== 'number') throw new Error('claims')
          iat = payload.iat
          verified.set(jwt, iat)
        } catch {
          fail(403, 'InvalidProviderToken')
        }
      }
      if (iat !== undefined && Date.now() / 1000 - iat > 3600) fail(403, 'ExpiredProviderToken')
    }
    if (!h['apns-topic']) fail(400, 'MissingTopic')
    if (!['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'location', 'liveactivity', 'pushtotalk'].includes(String(h['apns-push-type']))) fail(400, 'InvalidPushType')
    if (h['apns-priority'] !== undefined && !['10', '5', '1'].includes(String(h['apns-priority']))) fail(400, 'BadPriority')
    if (h['apns-expiration'] !== undefined && !/^\d+$/.test(String(h['apns-expiration']))) fail(400, 'BadExpirationDate')
    if (h['apns-collapse-id'] !== undefined && Buffer.byteLength(String(h['apns-collapse-id'])) > 64) fail(400, 'BadCollapseId')
    if (Buffer.byteLength(body) > 4096) fail(413, 'PayloadTooLarge')
    if (!body) fail(400, 'PayloadEmpty')
    else {
      try {
        const json = JSON.parse(body) as { aps?: unknown }
        if (!json.aps || typeof json.aps !== 'object') fail(400, 'BadPayload')
      } catch {
        fail(400, 'BadPayload')
      }
    }
    if (status === 200) {
      const n = (perToken.get(token) ?? 0) + 1
      perToken.set(token, n)
      const r = api.reply.get(token)
      const out = typeof r === 'function' ? r(n) : r
      if (out && out.status !== 200) {
        status = out.status
        reason = out.reason
        if (status === 410) extra.timestamp = Date.now()
      }
    }
    if (api.record) api.seen.push({ token, headers: h, body, status })
    respond(stream, status, reason, extra)
  }
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve))
  api.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  return api
}
