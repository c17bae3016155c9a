/**
 * Encrypted request fields and the public keys clients encrypt to.
 * - `GET /api/plinth/keys`: the JWKS (the current RSA-OAEP-256 key, with its `kid`).
 * - A `preValidation` hook on every route: a top-level JSON body value that is a compact JWE to
 *   one of the server's keys is replaced by its plaintext before validation (a wrong or expired
 *   key, or a bad value, is a 400 naming the field). With `requireEncryption`, password fields
 *   (`password`, `passwordConfirm`, `oldPassword`) sent in the clear are refused with 400.
 */
import type { FastifyInstance } from 'fastify'
import { validationError } from '../errors.ts'
import type { KeyRing } from '../security/keys/key-ring.ts'
import { decryptJwe, looksLikeJwe } from '../security/sensitive/jwe.ts'

/** Body fields that are always sensitive. */
export const PASSWORD_FIELDS = ['password', 'passwordConfirm', 'oldPassword'] as const
/** At most this many values are decrypted per request (each is an RSA private-key operation). */
const MAX_ENCRYPTED_FIELDS = 16

export interface SensitiveOptions {
  ring: KeyRing
  requireEncryption: boolean
}

export function installSensitiveFields(http: FastifyInstance, opts: SensitiveOptions): void {
  http.get('/api/plinth/keys', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60')
    return opts.ring.jwks()
  })

  http.addHook('preValidation', async (request) => {
    const body = request.body
    if (!body || typeof body !== 'object' || Array.isArray(body)) return
    const fields = body as Record<string, unknown>
    let decrypted = 0
    for (const [name, value] of Object.entries(fields)) {
      if (!looksLikeJwe(value)) {
        if (opts.requireEncryption && (PASSWORD_FIELDS as readonly string[]).includes(name) && typeof value === 'string' && value !== '') {
          throw validationError({ [name]: { code: 'validation_invalid_value', message: 'Must be encrypted (compact JWE to a key from /api/plinth/keys).' } })
        }
        continue
      }
      if (++decrypted > MAX_ENCRYPTED_FIELDS) throw validationError({ [name]: { code: 'validation_invalid_value', message: 'Too many encrypted values.' } })
      try {
        fields[name] = await decryptJwe(opts.ring, value)
      } catch {
        throw validationError({ [name]: { code: 'validation_invalid_value', message: 'Cannot decrypt the value.' } })
      }
    }
  })
}
