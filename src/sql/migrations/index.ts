import type { Migration } from 'kysely'
import { params } from './0001-params.ts'

/**
 * The SQL port's own tables. Features add theirs after these (records: `systemMigrations` in
 * src/records/collections/migrations.ts); `migrate()` takes the whole set. Names sort in the
 * order they apply; a released migration is never edited, only followed by a new one.
 */
export const sqlMigrations: Record<string, Migration> = {
  '0001-params': params,
}
