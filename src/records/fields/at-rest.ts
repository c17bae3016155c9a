/**
 * Fields marked `encrypt`: sealed in the write path just before their row is written, opened in
 * the row decoder, so every read (view, list, expand, realtime, auth responses) gets plaintext and
 * the database only ever holds ciphertext. The cipher (src/security/at-rest/cipher.ts) is bound
 * to the store's frozen collections when a schema snapshot is built (`bindCipher`).
 *
 * Empty values stay empty ('' for text, NULL for json): that a value is empty, and roughly how
 * long it is, remain visible in the database. Values stored before a field was marked read as
 * they are until they are next written.
 */
import type { Collection, Field } from '../model.ts'

/** The cipher's shape, as records use it (records never import security/). */
export interface FieldCipher {
  /** A key to encrypt with is configured. */
  readonly canSeal: boolean
  /** Whether a stored string is in the sealed form (it may still fail to open). */
  isSealed(stored: string): boolean
  /** The stored form of `plain`, bound to `aad` (the record id). Throws without a key. */
  seal(plain: string, aad: string): string
  /** The plaintext, or undefined when `stored` is not a sealed value that opens with `aad`. */
  open(stored: string, aad: string): string | undefined
}

/** The field types that can be encrypted at rest: values kept as text (json as a JSON string). */
export const ENCRYPTABLE_TYPES: readonly Field['type'][] = ['text', 'email', 'url', 'editor', 'json']

const bound = new WeakMap<Collection, FieldCipher>()

/** Makes `cipher` the one `c`'s rows are sealed and opened with (`c` must be frozen). */
export function bindCipher(c: Collection, cipher: FieldCipher): void {
  bound.set(c, cipher)
}

/** The fields of `c` marked `encrypt`. */
export function encryptedFields(c: Collection): Field[] {
  return c.fields.filter((f) => f.encrypt === true)
}

/**
 * Seals the values of `c`'s encrypted fields in `values` (column values, as prepareRecord makes
 * them) in place, for the record `id`. NB: throws rather than write plaintext when no key is
 * bound: a marked field never reaches SQL in the clear.
 */
export function sealValues(c: Collection, values: Record<string, unknown>, id: string): void {
  const fields = encryptedFields(c)
  if (!fields.length) return
  const cipher = bound.get(c)
  for (const f of fields) {
    const v = values[f.name]
    if (typeof v !== 'string' || v === '') continue // not written, or empty (json: NULL)
    if (!cipher?.canSeal) throw new Error(`field ${c.name}.${f.name} is marked encrypt but keys.atRestKey is not set`)
    values[f.name] = f.type === 'json' ? JSON.stringify(cipher.seal(v, id)) : cipher.seal(v, id)
  }
}

/** Turns one stored column value back into what was sealed (unchanged when it is not sealed). */
export type ColumnOpener = (stored: unknown, id: string) => unknown

/** The opener for one encrypted field of `c`, or undefined when `c` has no bound cipher. */
export function columnOpener(c: Collection, f: Field): ColumnOpener | undefined {
  const cipher = bound.get(c)
  if (!cipher) return undefined
  if (f.type !== 'json') {
    return (stored, id) => (typeof stored === 'string' && cipher.isSealed(stored) ? (cipher.open(stored, id) ?? stored) : stored)
  }
  // SQLite and MariaDB return the JSON text `"$pe1$..."`; PostgreSQL's jsonb gives the string itself.
  return (stored, id) => {
    let sealed = stored
    if (typeof stored === 'string' && stored.startsWith('"') && stored.endsWith('"')) {
      try {
        sealed = JSON.parse(stored)
      } catch {
        return stored
      }
    }
    if (typeof sealed !== 'string' || !cipher.isSealed(sealed)) return stored
    return cipher.open(sealed, id) ?? stored // the plaintext is JSON text, which the json decoder parses
  }
}
