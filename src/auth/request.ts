import type { AuthInfo } from '../records/record.ts'

/**
 * `request.auth`: set once per request by the root hook (see src/app.ts) from `Authenticate`;
 * null for guests. Declared here so every plugin sees the same type.
 */
declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthInfo | null
  }
}

export {}
