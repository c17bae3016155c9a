import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../dialect.ts'
import { DEVICES_TABLE } from './0009-keys-devices.ts'

/**
 * `_devices.slot`: each key of an auth record holds one of its slots (0 to MAX_DEVICES_PER_RECORD
 * - 1), unique per record, so two registrations at once cannot both take the last free one: the
 * cap holds on every engine without a lock (src/security/signatures/devices.ts). Existing keys get
 * slots in the order they were registered. The unique index leads with (collectionId, recordId),
 * so it serves the owner lookups too, and the owner index of 0009 goes.
 */
export function devicesSlotMigration(dialect: SqlDialect): Migration {
  // Each engine drops an index its own way (MySQL names the table, the others do not).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const dropIndex = (db: Kysely<any>, name: string) => dialect.dropIndex(db, { name, table: DEVICES_TABLE, unique: false, columns: [], where: [] })
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      await db.schema.alterTable(DEVICES_TABLE).addColumn('slot', 'integer').execute()
      const rows = (await db.selectFrom(DEVICES_TABLE).select(['id', 'collectionId', 'recordId']).orderBy('collectionId').orderBy('recordId').orderBy('created').orderBy('id').execute()) as { id: string; collectionId: string; recordId: string }[]
      let owner = ''
      let slot = 0
      for (const row of rows) {
        const next = `${row.collectionId}\0${row.recordId}`
        if (next !== owner) [owner, slot] = [next, 0]
        await db.updateTable(DEVICES_TABLE).set({ slot: slot++ }).where('id', '=', row.id).execute()
      }
      await db.schema.createIndex('idx__devices_slot').on(DEVICES_TABLE).columns(['collectionId', 'recordId', 'slot']).unique().execute()
      await dropIndex(db, 'idx__devices_owner')
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      await db.schema.createIndex('idx__devices_owner').on(DEVICES_TABLE).columns(['collectionId', 'recordId']).execute()
      await dropIndex(db, 'idx__devices_slot')
      await db.schema.alterTable(DEVICES_TABLE).dropColumn('slot').execute()
    },
  }
}
