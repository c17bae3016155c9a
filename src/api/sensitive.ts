/**
 * Encrypted request fields and the public keys clients encrypt to.
 * - `GET /api/plinth/keys`: the JWKS (the current RSA-OAEP-256 key, with its `kid`).
 * - A `preValidation` hook on every route: a top-level JSON body value that is a compact JWE to
 *   one of the server's keys is replaced by its plaintext before validation (a wrong or expired
 *   key, or a bad value, is a 400 naming the field). With `requireEncryption`, password fields
 *   (`password`, `passwordConfirm`, `oldPassword`), the SMS sign-in `code`, and record fields
 *   marked `sensitive` in their collection sent in the clear are refused with 400.
 *
 * JSON bodies are opened by that hook; multipart record bodies and the record requests inside
 * `/api/batch` by their handlers, through the `SensitiveBodies` this returns (their fields are
 * read there).
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

/** The fields of a record body of `collection` that must be encrypted: passwords and its `sensitive` marks. */
function recordFields(registry: SensitiveOptions['registry'], collection: unknown): Set<string> {
  const names = new Set<string>(PASSWORD_FIELDS)
  const fields = typeof collection === 'string' ? (registry.get(collection)?.fields ?? []) : []
  for (const f of fields) if (f.sensitive) names.add(f.name)
  return names
}

/** The body fields of this request that must be encrypted under `requireEncryption`. */
function mustEncrypt(request: FastifyRequest, registry: SensitiveOptions['registry']): Set<string> {
  const route = request.routeOptions.url
  if (route && RECORD_ROUTES.has(route)) return recordFields(registry, (request.params as { collection?: unknown }).collection)
  const names = new Set<string>(PASSWORD_FIELDS)
  if (route === SMS_CODE_ROUTE) names.add('code')
  return names
}

function isPlainValue(value: unknown): boolean {
  return value !== null && value !== undefined && value !== ''
}

/** How many more values a request may have decrypted (each is an RSA private-key operation). */
export interface DecryptBudget {
  left: number
}

/**
 * Opens the sensitive values of one body: every top-level value that is a compact JWE to one of
 * the server's keys is replaced by its plaintext, in place; with `requireEncryption`, a name in
 * `required` sent in the clear is refused (400 naming it). JSON bodies pass through here in a
 * `preValidation` hook; multipart record bodies (api/records.ts) and each record request inside
 * `/api/batch` (api/batch.ts) once their fields are read. NB: call it once per body: a second
 * pass would find the plaintext and refuse it.
 */
export class SensitiveBodies {
  constructor(private readonly opts: SensitiveOptions) {}

  /** A fresh budget for one request. */
  budget(): DecryptBudget {
    return { left: MAX_ENCRYPTED_FIELDS }
  }

  /** Opens the body of a record write to `collection` (see the class). */
  openRecordBody(collection: string, fields: Record<string, unknown>, budget: DecryptBudget): Promise<void> {
    return this.open(fields, this.opts.requireEncryption ? recordFields(this.opts.registry, collection) : undefined, budget)
  }

  async open(fields: Record<string, unknown>, required: Set<string> | undefined, budget: DecryptBudget): Promise<void> {
    for (const [name, value] of Object.entries(fields)) {
      // A multipart field sent several times arrives as an array: each value is opened (or refused).
      if (Array.isArray(value)) {
        if (value.some(looksLikeJwe) || required?.has(name)) fields[name] = await Promise.all(value.map((v) => this.#openValue(name, v, required, budget)))
      } else fields[name] = await this.#openValue(name, value, required, budget)
    }
  }

  async #openValue(name: string, value: unknown, required: Set<string> | undefined, budget: DecryptBudget): Promise<unknown> {
    if (!looksLikeJwe(value)) {
      if (required?.has(name) && isPlainValue(value)) {
        throw validationError({ [name]: { code: 'validation_invalid_value', message: 'Must be encrypted (compact JWE to a key from /api/plinth/keys).' } })
      }
      return value
    }
    if (--budget.left < 0) throw validationError({ [name]: { code: 'validation_invalid_value', message: 'Too many encrypted values.' } })
    try {
      return await decryptJwe(this.opts.ring, value)
    } catch {
      throw validationError({ [name]: { code: 'validation_invalid_value', message: 'Cannot decrypt the value.' } })
    }
  }
}

/** Mounts the JWKS and the JSON-body hook; returns the opener the multipart and batch paths use. */
export function installSensitiveFields(http: FastifyInstance, opts: SensitiveOptions): SensitiveBodies {
  const bodies = new SensitiveBodies(opts)
  http.get('/api/plinth/keys', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60')
    return opts.ring.jwks()
  })

  http.addHook('preValidation', async (request) => {
    const body = request.body
    if (!body || typeof body !== 'object' || Array.isArray(body)) return
    await bodies.open(body as Record<string, unknown>, opts.requireEncryption ? mustEncrypt(request, opts.registry) : undefined, bodies.budget())
  })
  return bodies
}
