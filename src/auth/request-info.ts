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
  // `headers` and `query` are worked out when first read: most requests' rules read neither
  // (a rule's SQL is even kept per caller when it reads only @request.auth).
  let headers: Record<string, string> | undefined
  let query: Record<string, string> | undefined
  // NB: getters of an object literal (enumerable, so a spread `{ ...info }` still carries them),
  // not `Object.defineProperties` on a new object, which costs microseconds per request.
  return {
    auth,
    method: request.method,
    body,
    context,
    ip: request.clientIp,
    get headers() {
      return (headers ??= ruleHeaders(request.headers))
    },
    get query() {
      return (query ??= ruleQuery(request.query))
    },
  }
}

function ruleHeaders(raw: FastifyRequest['headers']): Record<string, string> {
  const headers: Record<string, string> = Object.create(null)
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue
    headers[k.toLowerCase().replaceAll('-', '_')] = Array.isArray(v) ? v.join(',') : String(v)
  }
  return headers
}

function ruleQuery(raw: unknown): Record<string, string> {
  const query: Record<string, string> = Object.create(null)
  for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') query[k] = v
  }
  return query
}
