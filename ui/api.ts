import PocketBase, { ClientResponseError, LocalAuthStore } from 'pocketbase'

/**
 * The one PocketBase SDK client the console talks to the server through (same origin). Its own
 * storage key, so an app on the same origin that also uses the SDK keeps its own session.
 */
export const pb = new PocketBase(location.origin, new LocalAuthStore('plinth_admin_auth'))
// Pages load lists in parallel and re-load on realtime events: none of them should cancel another.
pb.autoCancellation(false)

export const SUPERUSERS = '_superusers'

/** Whether the stored session is a superuser's (the only kind the console shows data to). */
export function isSuperuser(): boolean {
  return pb.authStore.isValid && pb.authStore.record?.collectionName === SUPERUSERS
}

/** The message of an SDK error (or any error), for a toast or a form. */
export function errorMessage(err: unknown): string {
  if (err instanceof ClientResponseError) return err.response?.message || err.message
  return err instanceof Error ? err.message : String(err)
}

/** Field errors of a 400 (`data.<field>.message`), keyed by field name. */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!(err instanceof ClientResponseError)) return out
  const walk = (data: unknown, prefix: string) => {
    if (!data || typeof data !== 'object') return
    for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k
      if (v && typeof v === 'object' && 'message' in v && typeof (v as { message: unknown }).message === 'string') out[key] = (v as { message: string }).message
      else walk(v, key)
    }
  }
  walk(err.response?.data, '')
  return out
}

export { ClientResponseError }
