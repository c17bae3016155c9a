import { randomBytes } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.ts'
import type { Counters } from '../counters/counters.ts'
import type { Logger } from '../log.ts'
import type { SqlRouter } from '../sql/router.ts'
import { AUDIT_TABLE } from '../sql/migrations/0010-audit.ts'
import '../auth/request.ts'

/** One audit entry as stored and as `GET /api/plinth/audit` returns it. */
export interface AuditEntry {
  id: string
  /** Epoch milliseconds. */
  created: number
  /** `superuser.request`, `superuser.login`, `superuser.login_failed`, `admin.ip_refused`, `rate_limit.exceeded`, `signature.failed`. */
  action: string
  /** `collection:recordId` of the signed-in caller, or `''` for a guest. */
  actor: string
  ip: string
  method: string
  path: string
  status: number
  data: Record<string, unknown>
}

/** What a caller gives: the request fills who, from where, method and path. */
export interface AuditEvent {
  action: string
  status: number
  data?: Record<string, unknown>
}

const MAX_PATH = 1000

/**
 * The audit log (`_audit`, migration 0010-audit): superuser actions and security failures, kept
 * in the database for `audit.retentionDays` (the `__plinthAuditCleanup__` cron in core.ts) and
 * readable by superusers.
 *
 * Writes are not awaited by the request (an audit row must not slow or fail the answer); a failed
 * write is logged. Callers bound what they record: failures that an attacker can repeat at will
 * (a refused address, a rate limit) are recorded once per window, never once per request.
 */
export class AuditLog {
  constructor(
    private readonly sql: SqlRouter,
    private readonly log: Logger,
    /** Where `recordOnce` keeps its markers (shared by every node with the Redis engine). */
    private readonly counters?: Pick<Counters, 'setIfAbsent'>,
  ) {}

  /**
   * Records `event` only if no entry of the same `key` was recorded in the last `windowMs` (on any
   * node): for failures an attacker can repeat at will (a refused address, a bad signature), so a
   * flood of them is one row per window, never one per request. Not awaited, like `record`; a
   * counters outage loses the entry (logged), never the request.
   */
  recordOnce(request: FastifyRequest, key: string, event: AuditEvent, windowMs = 60_000): void {
    if (!this.counters) return this.record(request, event)
    this.counters
      .setIfAbsent(`audit:once:${key}`, '1', windowMs)
      .then((first) => {
        if (first) this.record(request, event)
      })
      .catch((err: unknown) => this.log.error({ err, action: event.action }, 'audit: could not record an entry'))
  }

  /** Records `event` for `request` in the background. */
  record(request: FastifyRequest, event: AuditEvent): void {
    const auth = request.auth
    const q = request.url.indexOf('?')
    const entry: AuditEntry = {
      id: randomBytes(10).toString('hex'),
      created: Date.now(),
      action: event.action,
      actor: auth ? `${auth.collection.name}:${String(auth.record.id)}` : '',
      ip: request.clientIp.slice(0, 64),
      method: request.method.slice(0, 16),
      path: (q < 0 ? request.url : request.url.slice(0, q)).slice(0, MAX_PATH),
      status: event.status,
      data: event.data ?? {},
    }
    this.sql
      .writer()
      .db.insertInto(AUDIT_TABLE)
      .values({ ...entry, data: JSON.stringify(entry.data) })
      .execute()
      .catch((err: unknown) => this.log.error({ err, action: entry.action }, 'audit: could not record an entry'))
  }

  /** A page of entries, newest first. */
  async list(q: { page: number; perPage: number; action?: string; actor?: string }): Promise<AuditEntry[]> {
    let query = this.sql.reader().db.selectFrom(AUDIT_TABLE).selectAll()
    if (q.action) query = query.where('action', '=', q.action)
    if (q.actor) query = query.where('actor', '=', q.actor)
    const rows = (await query.orderBy('created', 'desc').orderBy('id', 'desc').limit(q.perPage).offset((q.page - 1) * q.perPage).execute()) as Record<string, unknown>[]
    return rows.map((r) => ({
      id: String(r.id),
      created: Number(r.created),
      action: String(r.action),
      actor: String(r.actor),
      ip: String(r.ip),
      method: String(r.method),
      path: String(r.path),
      status: Number(r.status),
      data: JSON.parse(String(r.data)) as Record<string, unknown>,
    }))
  }
}

/**
 * The `onSignatureFailure` hook of `installSignatureChecks` (api/signatures.ts): a refused
 * signature becomes a `signature.failed` entry with the check's code, once per address and code
 * per minute (anyone can send bad signatures at will).
 */
export function signatureFailureAuditor(audit: AuditLog) {
  return (request: FastifyRequest, code: string): void => {
    audit.recordOnce(request, `signature_failed:${code}:${request.clientIp}`, { action: 'signature.failed', status: 401, data: { code } })
  }
}

const ListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  perPage: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
  action: Type.Optional(Type.String({ maxLength: 64 })),
  actor: Type.Optional(Type.String({ maxLength: 600 })),
})

/** `GET /api/plinth/audit?page=&perPage=&action=&actor=`: superusers only, newest first. */
export async function auditRoutes(http: FastifyInstance, opts: { audit: AuditLog }): Promise<void> {
  http.get<{ Querystring: Static<typeof ListQuery> }>('/api/plinth/audit', { schema: { querystring: ListQuery } }, async (request) => {
    if (!request.auth?.isSuperuser) {
      throw new ApiError(request.auth ? 'forbidden' : 'unauthorized', request.auth ? 'The authorized record is not allowed to perform this action.' : 'The request requires valid record authorization token.')
    }
    const page = request.query.page ?? 1
    const perPage = request.query.perPage ?? 50
    return { page, perPage, items: await opts.audit.list({ page, perPage, action: request.query.action, actor: request.query.actor }) }
  })
}
