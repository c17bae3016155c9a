import PocketBase, { ClientResponseError, LocalAuthStore } from 'pocketbase'
import { FieldEncryptor, RequestSigner, withPlinthSigning, type ClientKey } from '../sdk/plinth-signing.ts'

/**
 * The one PocketBase SDK client the console talks to the server through (same origin). Its own
 * storage key, so an app on the same origin that also uses the SDK keeps its own session.
 */
export const pb = new PocketBase(location.origin, new LocalAuthStore('plinth_admin_auth'))
// Pages load lists in parallel and re-load on realtime events: none of them should cancel another.
pb.autoCancellation(false)

/**
 * Signed requests (PLINTH_SIGNATURES): when the server signs, each auth response carries the
 * session's key, and every request with the token is signed with it (sdk/plinth-signing.ts). The
 * key is kept beside the session, so a reload keeps signing; it goes when the session does.
 */
const SIGNING_KEY = 'plinth_admin_signing'
const signer = new RequestSigner(storedSigningKey())
withPlinthSigning(pb, signer)
const keepKey = pb.afterSend!
pb.afterSend = (response: Response, data: unknown) => {
  const out = keepKey(response, data)
  if (signer.key) localStorage.setItem(SIGNING_KEY, JSON.stringify(signer.key))
  return out
}
pb.authStore.onChange((token) => {
  if (token) return
  signer.key = undefined
  localStorage.removeItem(SIGNING_KEY)
})

function storedSigningKey(): ClientKey | undefined {
  try {
    const key = JSON.parse(localStorage.getItem(SIGNING_KEY) ?? 'null') as ClientKey | null
    return key?.alg === 'hmac-sha256' && pb.authStore.token ? key : undefined
  } catch {
    return undefined
  }
}

/**
 * Encrypted fields (PLINTH_REQUIRE_ENCRYPTION): passwords, OTP codes and fields marked `sensitive`
 * go as JWE to the server's key. Where this browser cannot encrypt (WebCrypto needs https or
 * localhost) or the server has no key, they go as they are, and the server decides.
 */
const encryptor = new FieldEncryptor(location.origin)

/** `body` with the fields in `names` encrypted (see above). */
export async function sealed<T extends Record<string, unknown>>(body: T, names: readonly string[]): Promise<T> {
  try {
    return await encryptor.encryptFields(body, names)
  } catch {
    return body
  }
}

/** One value encrypted (a password, an OTP code), or as it is (see above). */
export async function sealedValue(value: string): Promise<string> {
  return (await sealed({ value }, ['value'])).value
}

/** The body fields that are passwords, in every collection. */
export const PASSWORD_FIELDS = ['password', 'passwordConfirm', 'oldPassword'] as const

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
