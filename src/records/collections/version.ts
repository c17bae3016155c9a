import { randomBytes } from 'node:crypto'
import { nowDate } from '../model.ts'
import type { Db } from './schema-sync.ts'

/**
 * The schema version: one `_params` row that every committed collection change replaces, in the
 * same transaction as the change (where DDL is transactional), so every node reading the database
 * agrees on it. It is an opaque token (time + random, not a counter): nodes only ever ask "is it
 * the one I loaded?", never "which is newer?", so two nodes changing the schema at once cannot
 * both write the same "next" number for different schemas.
 */
export const SCHEMA_VERSION_KEY = 'collections.version'

/** The stored version, or '' when the schema has never been changed through the store. */
export async function readSchemaVersion(db: Db): Promise<string> {
  const row = (await db.selectFrom('_params').select('value').where('id', '=', SCHEMA_VERSION_KEY).executeTakeFirst()) as { value: unknown } | undefined
  if (!row || typeof row.value !== 'string') return ''
  try {
    const v: unknown = JSON.parse(row.value)
    return typeof v === 'string' ? v : ''
  } catch {
    return ''
  }
}

/** A fresh version token: sortable by time for people reading logs, unique by its random part. */
export function newSchemaVersion(): string {
  return `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`
}

/**
 * Stores a new version; call it inside the transaction that changes the schema. NB: the very first
 * change on a database inserts the row, and two nodes doing that at the same instant collide on
 * the key (one change then fails and can be retried); every later change updates the row.
 */
export async function bumpSchemaVersion(db: Db): Promise<string> {
  const version = newSchemaVersion()
  const value = JSON.stringify(version)
  const now = nowDate()
  const exists = await db.selectFrom('_params').select('id').where('id', '=', SCHEMA_VERSION_KEY).executeTakeFirst()
  if (exists) await db.updateTable('_params').set({ value, updated: now }).where('id', '=', SCHEMA_VERSION_KEY).execute()
  else await db.insertInto('_params').values({ id: SCHEMA_VERSION_KEY, value, created: now, updated: now }).execute()
  return version
}
