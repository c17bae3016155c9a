import type { Migration } from 'kysely'
import { params } from './0001-params.ts'
import { collections } from './0002-collections.ts'
import { rowid } from './0003-rowid.ts'

/**
 * Plinth's own system tables, in order. Names sort in the order they apply; a released
 * migration is never edited, only followed by a new one.
 */
export const systemMigrations: Record<string, Migration> = {
  '0001-params': params,
  '0002-collections': collections,
  '0003-rowid': rowid,
}
