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

/** The payload when it parses as a JSON object, signature NOT checked; undefined otherwise. */
export function decodeUnverified(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown
    if (!header || typeof header !== 'object' || !payload || typeof payload !== 'object' || Array.isArray(payload)) return undefined
    return payload as Record<string, unknown>
  } catch {
    return undefined
  }
}

/**
 * The payload when the token is HS256, signed with `key` and not expired (`exp` in seconds);
 * undefined otherwise. Only HS256 is accepted, so `alg: none` or RS/HS confusion cannot pass.
 */
export function verifyHs256(token: string, key: string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  let header: { alg?: unknown }
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { alg?: unknown }
  } catch {
    return undefined
  }
  if (header?.alg !== 'HS256') return undefined
  const expected = mac(key, `${parts[0]}.${parts[1]}`)
  const given = Buffer.from(parts[2]!, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  const payload = decodeUnverified(token)
  if (!payload) return undefined
  if (typeof payload.exp !== 'number' || payload.exp <= nowSeconds) return undefined
  return payload
}
