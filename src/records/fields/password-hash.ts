import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Password hashing with scrypt (memory-hard, in node:crypto, so no native dependency).
 *
 * Stored form, self-describing so parameters can grow later without breaking old hashes:
 * `scrypt$N$r$p$SALT$HASH` (SALT and HASH base64url, no padding).
 *
 * N=2^14, r=8 uses 16 MiB and takes ~70 ms on the project's machines: slow enough to make
 * offline guessing expensive, fast enough for a login endpoint. Verification uses the
 * parameters stored in the hash, not these.
 */
const N = 1 << 14
const R = 8
const P = 1
const SALT_BYTES = 16
const KEY_BYTES = 32

/** Hashes above these are refused rather than computed: a crafted hash must not make us burn memory. */
const MAX_N = 1 << 20
const MAX_R = 32
const MAX_P = 16

function derive(plain: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Async scrypt runs on the libuv pool, so a login does not stall the event loop.
    scrypt(plain.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

function memFor(n: number, r: number, p: number): number {
  // Node's default maxmem (32 MiB) is just below what N=2^14,r=8 needs with its bookkeeping.
  return 128 * n * r * p * 2 + 1024 * 1024
}

/** A memory-hard hash (scrypt) of a password, self-describing (algorithm, parameters, salt). */
export async function hashPassword(plain: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(plain, salt, KEY_BYTES, { N, r: R, p: P, maxmem: memFor(N, R, P) })
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

interface Parsed {
  n: number
  r: number
  p: number
  salt: Buffer
  key: Buffer
}

function parseHash(hash: string): Parsed | undefined {
  const parts = hash.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined
  const [, ns, rs, ps, salts, keys] = parts as [string, string, string, string, string, string]
  if (!/^\d{1,8}$/.test(ns) || !/^\d{1,3}$/.test(rs) || !/^\d{1,3}$/.test(ps)) return undefined
  const n = Number(ns)
  const r = Number(rs)
  const p = Number(ps)
  // N must be a power of two above 1 (scrypt's rule); bounds stop a stored hash from asking for gigabytes.
  if (n < 2 || n > MAX_N || (n & (n - 1)) !== 0 || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return undefined
  if (!/^[A-Za-z0-9_-]+$/.test(salts) || !/^[A-Za-z0-9_-]+$/.test(keys)) return undefined
  const salt = Buffer.from(salts, 'base64url')
  const key = Buffer.from(keys, 'base64url')
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined
  return { n, r, p, salt, key }
}

/**
 * Checks a password against a stored hash in constant time. Malformed, empty or foreign hashes
 * return false (never throw), so a corrupt row is a failed login, not a 500.
 */
export async function verifyPassword(plain: string, hash: string): Promise<boolean> {
  if (typeof plain !== 'string' || typeof hash !== 'string') return false
  const parsed = parseHash(hash)
  if (!parsed) return false
  try {
    const key = await derive(plain, parsed.salt, parsed.key.length, {
      N: parsed.n,
      r: parsed.r,
      p: parsed.p,
      maxmem: memFor(parsed.n, parsed.r, parsed.p),
    })
    return timingSafeEqual(key, parsed.key)
  } catch {
    return false
  }
}

/** A valid hash of a random secret: used to spend the same time when no account matched. */
let dummy: Promise<string> | undefined
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString('base64url'))
  return dummy
}
