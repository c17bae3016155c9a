import type { Collection } from './model.ts'

/**
 * A record as the API serves it: `collectionId`, `collectionName`, then each field's API value
 * (single-valued fields as strings/numbers/booleans, multi-valued as arrays, json as parsed JSON,
 * dates as `YYYY-MM-DD HH:MM:SS.sssZ` or ''). Hidden fields and `password`/`tokenKey` are only
 * present where the caller asked for the raw form.
 */
export type RecordJson = Record<string, unknown> & { id: string; collectionId: string; collectionName: string }

/** Who is making a request: the auth record (raw: hidden fields included) and its collection. */
export interface AuthInfo {
  collection: Collection
  record: RecordJson
  /** True for records of the `_superusers` collection. */
  isSuperuser: boolean
}

/**
 * The request data that API rules and filters can reference as `@request.*`.
 * Bodies are the submitted values after decryption/parsing, before validation.
 */
export interface RequestInfo {
  auth: AuthInfo | null
  method: string
  /** Lower-cased header names, `-` replaced by `_` (PocketBase's form: `@request.headers.x_token`). */
  headers: Record<string, string>
  query: Record<string, string>
  body: Record<string, unknown>
  /** 'default' | 'oauth2' | 'otp' | 'password' | 'realtime' | 'protectedFile' */
  context: string
  /** The client's address (honouring `trustProxy`), for throttling; rules cannot read it. */
  ip?: string
  /** Set only by `systemRequest()`: the server itself writes (see `actsAsSuperuser`). */
  system?: boolean
}

/**
 * Whether the request acts with every right: a superuser's, or the server's own (`systemRequest`).
 * Such requests pass every API rule and see hidden fields; validation, hooks and events still apply.
 */
export function actsAsSuperuser(request: RequestInfo): boolean {
  return request.system === true || request.auth?.isSuperuser === true
}

/**
 * A guest's request with nothing sent (no auth, headers, query or body): what a rule is checked
 * against when it is saved, and a neutral request for code that needs one. Frozen: it is shared.
 */
export const GUEST_REQUEST: Readonly<RequestInfo> = Object.freeze({
  auth: null,
  method: 'GET',
  headers: Object.freeze({}),
  query: Object.freeze({}),
  body: Object.freeze({}),
  context: 'default',
})

/**
 * The request context of a write the server makes itself (auth flows, the CLI, app code): no
 * API rules, but the same field validation, hooks and events as any API write. `auth` is null
 * (no record made the change); hooks can tell it apart by `system: true`.
 * NB: never build one from a client's request: it bypasses every rule.
 */
export function systemRequest(context = 'system'): RequestInfo {
  return { auth: null, system: true, method: '', headers: {}, query: {}, body: {}, context }
}
