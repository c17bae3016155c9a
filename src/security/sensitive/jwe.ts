/**
 * Sensitive values sent as compact JWE (RSA-OAEP-256 + A256GCM, the jose library), decrypted with
 * the key ring before validation. Only those two algorithms are accepted, whatever the header says.
 */
import type { KeyRing } from '../keys/key-ring.ts'

/** Five base64url parts: the compact JWE shape (the second part, the encrypted key, is never empty for RSA). */
const COMPACT_JWE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/
/** A JWE longer than this is refused unread (a field value, not a file). */
export const MAX_JWE_LENGTH = 64 * 1024

export function looksLikeJwe(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_JWE_LENGTH && COMPACT_JWE.test(value)
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
