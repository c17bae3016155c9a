import { isAuthCollection, type Collection } from './model.ts'
import type { RecordJson, RequestInfo } from './record.ts'

/**
 * What a caller may see of a record: hidden fields only for superusers; `password` and
 * `tokenKey` never; on auth collections `email` only when `emailVisibility` is on, or for the
 * record itself, a superuser or a manager (`manageRule`).
 */
export function visibleRecord(collection: Collection, record: RecordJson, request: RequestInfo, isManager = false): RecordJson {
  const superuser = request.auth?.isSuperuser === true
  const out: Record<string, unknown> = {}
  const hidden = new Set(collection.fields.filter((f) => f.hidden).map((f) => f.name))
  const own = request.auth?.collection.id === collection.id && request.auth.record.id === record.id
  for (const [key, value] of Object.entries(record)) {
    if (key === 'password' || key === 'tokenKey') continue
    if (hidden.has(key) && !superuser && !(key === 'email' && isAuthCollection(collection))) continue
    out[key] = value
  }
  if (isAuthCollection(collection) && !superuser && !isManager && !own && record.emailVisibility !== true) delete out.email
  return out as RecordJson
}
