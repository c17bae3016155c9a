import { parseFields, pickFields } from '../records/pick-fields.ts'
import type { AuthCollection } from '../records/model.ts'
import type { RecordJson } from '../records/record.ts'
import { stripRecord } from '../records/records-visibility.ts'

/**
 * An auth record as auth endpoints return it: `password` and `tokenKey` never; `email` always
 * (it is the caller's own record, PocketBase ignores emailVisibility here); other hidden fields
 * only when the record is a superuser's own (PocketBase unhides them for superusers).
 */
export function publicAuthRecord(collection: AuthCollection, record: RecordJson, isSuperuser: boolean): RecordJson {
  return stripRecord(collection, record, { showHidden: isSuperuser, showEmail: true })
}

/**
 * The `fields` query parameter applied to a whole auth response (`{token, record}`), as PocketBase
 * applies it to every JSON response: `fields=token`, `fields=record.email`, `fields=*,record.id`.
 */
export function pickResponseFields<T>(query: unknown, body: T): T {
  const raw = query && typeof query === 'object' ? (query as Record<string, unknown>).fields : undefined
  return typeof raw === 'string' ? pickFields(body, parseFields(raw)) : body
}
