/**
 * Request signatures at the HTTP edge: one `preParsing` hook, after authentication (onRequest),
 * checks the signature under the route's mode (`security/signatures/verify-request.ts`) over the
 * headers, then reads a signed request's body and checks its Content-Digest against the bytes as
 * received, before any parser or handler. Installed on the root instance (src/app.ts), so every
 * route is covered; nothing here runs for a route whose mode is `off`.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { tokenFromHeader } from '../auth/authenticate.ts'
import type { Counters } from '../counters/counters.ts'
import { ApiError } from '../errors.ts'
import { isAuthCollection } from '../records/model.ts'
import type { AuthInfo } from '../records/record.ts'
import type { SignatureKey } from '../security/signatures/rfc9421.ts'
import { SESSION_KEY_PREFIX, SessionKeys } from '../security/signatures/session-key.ts'
import { bodyDigests } from '../security/signatures/content-digest.ts'
import { checkSignedHeaders, finishSignature, modeFor, type IncomingSignedRequest, type SignatureSettings } from '../security/signatures/verify-request.ts'
import '../auth/request.ts'

export interface SignatureChecksOptions {
  settings: SignatureSettings
  /** Where nonces are kept (shared by every node when the engine is Redis). */
  counters: Pick<Counters, 'spendOnce'>
  /** The largest body read (the server's bodyLimit). */
  bodyLimit: number
  /** Device keys (`/api/plinth/devices`): the key `keyid` names if it belongs to `auth`'s record. */
  deviceKey?: (keyid: string, auth: AuthInfo) => Promise<SignatureKey | undefined>
  /**
   * Called with each refused request and the failed check's code: app.ts records it in the
   * audit log (`signatureFailureAuditor` in api/audit.ts). Must not throw.
   */
  onSignatureFailure?: (request: FastifyRequest, code: string) => void
}

function signed(request: FastifyRequest): boolean {
  return request.headers['signature-input'] !== undefined || request.headers.signature !== undefined
}

/**
 * Whether a body follows the headers (HTTP/1.1: a non-zero Content-Length or a Transfer-Encoding).
 * A request without one (a GET) has nothing to digest: its stream is left alone, not read and
 * replayed. NB: `content-digest` is then checked against the empty body's digests.
 */
function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length']
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

/** Reads a body into memory, up to `limit` bytes (a signed body is hashed whole before parsing). */
async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += buf.length
    if (size > limit) throw new ApiError('body_too_large')
    chunks.push(buf)
  }
  return Buffer.concat(chunks, size)
}

/** Properties of the request that stay the original's in its replay (all but the body's stream). */
const REQUEST_PROPS = ['headers', 'rawHeaders', 'trailers', 'rawTrailers', 'method', 'url', 'httpVersion', 'httpVersionMajor', 'httpVersionMinor', 'socket', 'connection', 'aborted', 'complete'] as const

/**
 * The request again, its body read from `body` (the bytes already read and digested): the payload
 * the parsers read next, and for parsers that read `request.raw` itself (multipart) its stand-in.
 * It never emits 'close': the original's, which comes once its body is consumed, would make a
 * multipart parser stop partway.
 */
function replayedRequest(raw: IncomingMessage, body: Buffer): IncomingMessage & { receivedEncodedLength: number } {
  const replay = new Readable({ emitClose: false, read() {} })
  replay.push(body)
  replay.push(null)
  for (const key of REQUEST_PROPS) Object.defineProperty(replay, key, { get: () => raw[key], enumerable: true })
  return Object.assign(replay as unknown as IncomingMessage, { receivedEncodedLength: body.length })
}

export function installSignatureChecks(http: FastifyInstance, opts: SignatureChecksOptions): void {
  const { settings } = opts
  const sessions = new SessionKeys()
  const resolver = (request: FastifyRequest) => (keyid: string): Promise<SignatureKey | undefined> | SignatureKey | undefined => {
    const auth = request.auth
    if (!auth || !isAuthCollection(auth.collection)) return undefined
    if (keyid.startsWith(SESSION_KEY_PREFIX)) {
      const secret = sessions.keyFor(auth.collection, tokenFromHeader(request.headers.authorization), keyid)
      return secret && { alg: 'hmac-sha256', secret }
    }
    return opts.deviceKey?.(keyid, auth)
  }

  // Before the body is parsed, once auth is known (onRequest). The signature is checked over the
  // headers first, so a forged one is refused before any body is read; then the body of a signed
  // request is read whole (up to bodyLimit), its digest checked, and the nonce spent.
  // NB: a callback hook, not an async one: a request the route does not check goes on at once.
  http.addHook('preParsing', (request, _reply, payload, done) => {
    const mode = modeFor(settings, pathOf(request.url))
    if (mode === 'off' || (!signed(request) && !(mode === 'required' && request.auth))) return done(null, payload)
    const headers = request.headers
    const withBody = hasBody(request)
    const req: IncomingSignedRequest = {
      method: request.method,
      targetUri: `${request.protocol}://${request.host}${request.url}`,
      authenticated: !!request.auth,
      hasBody: withBody,
      header: (name) => headers[name],
    }
    const deps = { counters: opts.counters, resolveKey: resolver(request), maxSkewSeconds: settings.maxSkewSeconds }
    checkSignedHeaders(req, mode, deps)
      .then(async (verified) => {
        if (verified === 'unsigned') return payload
        if (!withBody) return finishSignature(verified, undefined, deps).then(() => payload)
        const body = await readAll(payload, opts.bodyLimit)
        await finishSignature(verified, bodyDigests(body), deps)
        const replay = replayedRequest(request.raw, body)
        // NB: @fastify/multipart reads `request.raw`, not this hook's payload (which it leaves unread).
        if (request.headers['content-type']?.toLowerCase().startsWith('multipart/')) request.raw = replay
        return replay
      })
      .then(
        (next) => done(null, next),
        (err: unknown) => {
          if (err instanceof ApiError && err.code.startsWith('signature_')) opts.onSignatureFailure?.(request, err.code)
          done(err as Error)
        },
      )
  })
}

