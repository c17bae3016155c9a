import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * HS256 JSON Web Tokens with node:crypto, synchronously.
 *
 * Written here rather than taken from `jose`: jose verifies through WebCrypto, whose async
 * importKey + verify hop to the thread pool on every request; that made token checks the largest
 * cost of an authenticated read (measured: bench/scenarios/records.ts). HS256 is small enough to
 * own: one header, one HMAC, a constant-time compare.
 * NB: key material passes through here; never log `key`.
 */
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')

function mac(key: string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest()
}

export function signHs256(payload: Record<string, unknown>, key: string): string {
  const body = `${HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${body}.${mac(key, body).toString('base64url')}`
}

/** A JWT split and decoded once, signature NOT checked yet. */
export interface ParsedJwt {
  readonly alg: unknown
  readonly payload: Record<string, unknown>
  /** `header.payload`, the signed part. */
  readonly signed: string
  readonly signature: string
}

function jsonPart(part: string): unknown {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
}

/** Splits and decodes a JWT once; undefined unless it has three parts and JSON object header and payload. */
export function parseJwt(token: string): ParsedJwt | undefined {
  const first = token.indexOf('.')
  const second = first < 0 ? -1 : token.indexOf('.', first + 1)
  if (second < 0 || token.indexOf('.', second + 1) >= 0) return undefined
  try {
    const header = jsonPart(token.slice(0, first))
    const payload = jsonPart(token.slice(first + 1, second))
    if (!header || typeof header !== 'object' || !payload || typeof payload !== 'object' || Array.isArray(payload)) return undefined
    return { alg: (header as { alg?: unknown }).alg, payload: payload as Record<string, unknown>, signed: token.slice(0, second), signature: token.slice(second + 1) }
  } catch {
    return undefined
  }
}

/** The payload when it parses as a JSON object, signature NOT checked; undefined otherwise. */
export function decodeUnverified(token: string): Record<string, unknown> | undefined {
  return parseJwt(token)?.payload
}

/**
 * The payload of an already parsed token when it is HS256, signed with `key` and not expired
 * (`exp` in seconds); undefined otherwise. Only HS256 is accepted, so `alg: none` or RS/HS
 * confusion cannot pass.
 */
export function checkHs256(jwt: ParsedJwt, key: string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> | undefined {
  if (jwt.alg !== 'HS256') return undefined
  const expected = mac(key, jwt.signed)
  const given = Buffer.from(jwt.signature, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  const exp = jwt.payload.exp
  return typeof exp === 'number' && exp > nowSeconds ? jwt.payload : undefined
}

/** `checkHs256` for a token string. */
export function verifyHs256(token: string, key: string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> | undefined {
  const jwt = parseJwt(token)
  return jwt && checkHs256(jwt, key, nowSeconds)
}
