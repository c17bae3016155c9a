/**
 * Encrypted request fields and the public keys clients encrypt to.
 * - `GET /api/plinth/keys`: the JWKS (the current RSA-OAEP-256 key, with its `kid`).
 * - A `preValidation` hook on every route: a top-level JSON body value that is a compact JWE to
 *   one of the server's keys is replaced by its plaintext before validation (a wrong or expired
 *   key, or a bad value, is a 400 naming the field). With `requireEncryption`, password fields
 *   (`password`, `passwordConfirm`, `oldPassword`), the SMS sign-in `code`, and record fields
 *   marked `sensitive` in their collection sent in the clear are refused with 400.
 *
 * Only JSON bodies pass through here: multipart record bodies and `/api/batch` sub-requests are
 * not checked (their values are read by the handlers).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { validationError } from '../errors.ts'
import type { CollectionRegistry } from '../records/registry.ts'
import type { KeyRing } from '../security/keys/key-ring.ts'
import { decryptJwe, looksLikeJwe } from '../security/sensitive/jwe.ts'

/** Body fields that are always sensitive. */
export const PASSWORD_FIELDS = ['password', 'passwordConfirm', 'oldPassword'] as const
/** At most this many values are decrypted per request (each is an RSA private-key operation). */
const MAX_ENCRYPTED_FIELDS = 16

export interface SensitiveOptions {
  ring: KeyRing
  requireEncryption: boolean
  /** Where the collections' `sensitive` marks are read. */
  registry: Pick<CollectionRegistry, 'get'>
}

const RECORD_ROUTES = new Set(['/api/collections/:collection/records', '/api/collections/:collection/records/:id'])
const SMS_CODE_ROUTE = '/api/collections/:collection/auth-with-sms-code'

/** The body fields of this request that must be encrypted under `requireEncryption`. */
function mustEncrypt(request: FastifyRequest, registry: SensitiveOptions['registry']): Set<string> {
  const names = new Set<string>(PASSWORD_FIELDS)
  const route = request.routeOptions.url
  if (route === SMS_CODE_ROUTE) names.add('code')
  if (route && RECORD_ROUTES.has(route)) {
    const collection = (request.params as { collection?: unknown }).collection
    const fields = typeof collection === 'string' ? (registry.get(collection)?.fields ?? []) : []
    for (const f of fields) if (f.sensitive) names.add(f.name)
  }
  return names
}

function isPlainValue(value: unknown): boolean {
  return value !== null && value !== undefined && value !== ''
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
    const required = opts.requireEncryption ? mustEncrypt(request, opts.registry) : undefined
    let decrypted = 0
    for (const [name, value] of Object.entries(fields)) {
      if (!looksLikeJwe(value)) {
        if (required?.has(name) && isPlainValue(value)) {
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
