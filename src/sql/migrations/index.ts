import type { Migration } from 'kysely'
import { params } from './0001-params.ts'

/**
 * Plinth's own system tables, in order. Names sort in the order they apply; a released
 * migration is never edited, only followed by a new one.
 */
export const systemMigrations: Record<string, Migration> = {
  '0001-params': params,
}
