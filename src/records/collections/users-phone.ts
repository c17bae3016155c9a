import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../../sql/dialect.ts'
import { isAuthCollection } from '../model.ts'
import { assignFieldIds } from '../fields/definition.ts'
import { addPhoneSignIn } from './defaults.ts'
import { syncRecordTable } from './schema-sync.ts'
import { collectionToRow, rowToCollection, type CollectionRow } from './serialize.ts'

/**
 * '0011-users-phone': phone sign-in on the `users` collection of databases made before it existed
 * (new databases get it with `users` itself): the `phone` field and its unique index, `phoneAuth`
 * on with sign-up, `email` not required. A `users` collection that already has a `phone` field
 * (an app's own) is left alone, as is a database without `users`.
 */
export function usersPhoneMigration(dialect: SqlDialect): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      const row = (await db.selectFrom('_collections').selectAll().where('name', '=', 'users').executeTakeFirst()) as CollectionRow | undefined
      if (!row) return
      const prev = rowToCollection(row)
      if (!isAuthCollection(prev) || prev.fields.some((f) => f.name === 'phone')) return
      const next = structuredClone(prev)
      addPhoneSignIn(next)
      assignFieldIds(next.fields, prev.fields)
      await syncRecordTable(db, dialect, next, prev)
      const { id: _id, ...changes } = collectionToRow(next)
      await db.updateTable('_collections').set(changes).where('id', '=', prev.id).execute()
    },
    // Kept on the way down: dropping the column would lose every number.
    async down() {},
  }
}
