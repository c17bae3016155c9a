import { randomInt } from 'node:crypto'
import { nowDate, type AuthCollection } from '../records/model.ts'
import { hashPassword } from './password.ts'
import type { Db } from './records.ts'

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'

/** Random characters from `alphabet` (default `[a-zA-Z0-9]`), unbiased (randomInt rejects out-of-range draws). */
export function randomString(length: number, alphabet = ALPHABET): string {
  let out = ''
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)]
  return out
}

/**
 * NB: a new tokenKey, PocketBase's `[a-zA-Z0-9]{50}`. Writing it revokes every token the record
 * holds (they are signed with the old key), on every node, at once.
 */
export function newTokenKey(): string {
  return randomString(50)
}

/** Booleans as 1/0: better-sqlite3 cannot bind `true`, and PostgreSQL and MySQL accept 1/0 for their boolean columns. */
function boolValue(v: boolean): number {
  return v ? 1 : 0
}

export interface AuthChanges {
  /** A new plain password: hashed here; also rotates the tokenKey. */
  password?: string
  verified?: boolean
  /** A new email: also rotates the tokenKey, as PocketBase does. */
  email?: string
}

/**
 * Writes auth-field changes to one record, with `updated`-style autodates touched. A password or
 * email change always comes with a fresh tokenKey, so it can never be forgotten by a caller.
 */
export async function updateAuthFields(db: Db, collection: AuthCollection, id: string, changes: AuthChanges): Promise<void> {
  const values: Record<string, unknown> = {}
  if (changes.password !== undefined) values.password = await hashPassword(changes.password)
  if (changes.email !== undefined) values.email = changes.email
  if (changes.password !== undefined || changes.email !== undefined) values.tokenKey = newTokenKey()
  if (changes.verified !== undefined) values.verified = boolValue(changes.verified)
  if (!Object.keys(values).length) return
  const now = nowDate()
  for (const f of collection.fields) if (f.type === 'autodate' && f.onUpdate) values[f.name] = now
  await db.updateTable(collection.name).set(values).where('id', '=', id).execute()
}
