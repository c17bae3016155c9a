import type { FastifyRequest } from 'fastify'
import type { AuthInfo, RequestInfo } from '../records/record.ts'

/**
 * `@request.*` for rules evaluated by auth endpoints (the collection's authRule). Header names
 * are lower-cased with `-` as `_`, PocketBase's form; the body is the already-picked fields.
 */
export function authRequestInfo(
  request: FastifyRequest,
  auth: AuthInfo | null,
  body: Record<string, unknown>,
  context: string,
): RequestInfo {
  const headers: Record<string, string> = Object.create(null)
  for (const [k, v] of Object.entries(request.headers)) {
    if (v === undefined) continue
    headers[k.toLowerCase().replaceAll('-', '_')] = Array.isArray(v) ? v.join(',') : String(v)
  }
  const query: Record<string, string> = Object.create(null)
  for (const [k, v] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') query[k] = v
  }
  return { auth, method: request.method, headers, query, body, context, ip: request.ip }
}
