import type { AuthInfo } from '../records/record.ts'

/**
 * `request.auth`: set once per request by the root hook (see src/app.ts) from `Authenticate`;
 * null for guests. Declared here so every plugin sees the same type.
 */
declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthInfo | null
    /** The client's address: the peer's, or from a trusted proxy's header (api/client-ip.ts). */
    clientIp: string
  }
}

export {}
