import type { FastifyRequest } from 'fastify'
import type { AuthInfo } from '../records/record.ts'

/**
 * Auth building blocks used by the records API.
 * OWNER: auth (src/auth/). INTERFACE STUB: replaced by the auth work.
 */

/** A memory-hard hash (scrypt) of a password, self-describing (algorithm, parameters, salt). */
export async function hashPassword(_plain: string): Promise<string> {
  throw new Error('hashPassword: not built yet')
}

export async function verifyPassword(_plain: string, _hash: string): Promise<boolean> {
  throw new Error('verifyPassword: not built yet')
}

/** The request's auth from its `Authorization` header (`TOKEN` or `Bearer TOKEN`); null for guests and bad tokens. */
export type Authenticate = (request: FastifyRequest) => Promise<AuthInfo | null>
