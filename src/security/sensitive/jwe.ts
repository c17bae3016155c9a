/**
 * Sensitive values sent as compact JWE (RSA-OAEP-256 + A256GCM, the jose library), decrypted with
 * the key ring before validation. Only those two algorithms are accepted, whatever the header says.
 */
import type { KeyRing } from '../keys/key-ring.ts'

/**
 * Five base64url parts: the compact JWE shape. The encrypted key is never empty for RSA, nor the IV
 * and tag for AES-GCM; the ciphertext is empty when the value is.
 */
const COMPACT_JWE = /^([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/
/** A JWE longer than this is refused unread (a field value, not a file). */
export const MAX_JWE_LENGTH = 64 * 1024

/**
 * Whether a value is meant as a compact JWE: the shape, and a first part that is a protected
 * header (a JSON object naming `alg` and `enc`). Text that only has the shape, such as the OID
 * `1.3.6.1.4` or `a.b.c.d.e`, is an ordinary value and is stored as sent.
 */
export function looksLikeJwe(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_JWE_LENGTH) return false
  const header = COMPACT_JWE.exec(value)?.[1]
  if (header === undefined) return false
  try {
    const parsed: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { alg?: unknown }).alg === 'string' && typeof (parsed as { enc?: unknown }).enc === 'string'
  } catch {
    return false
  }
}

export class JweError extends Error {}

/** The plaintext of a compact JWE to one of the ring's keys; JweError for anything else. */
export async function decryptJwe(ring: KeyRing, jwe: string): Promise<string> {
  const { compactDecrypt } = await import('jose')
  try {
    const { plaintext } = await compactDecrypt(
      jwe,
      async (header) => {
        const key = typeof header.kid === 'string' ? await ring.privateKey(header.kid) : undefined
        if (!key) throw new JweError('unknown or expired key')
        return key
      },
      { keyManagementAlgorithms: ['RSA-OAEP-256'], contentEncryptionAlgorithms: ['A256GCM'] },
    )
    return new TextDecoder().decode(plaintext)
  } catch {
    throw new JweError('the value cannot be decrypted')
  }
}
