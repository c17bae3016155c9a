import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../dialect.ts'

/** Devices registered for push (src/push/devices.ts). */
export const PUSH_DEVICES_TABLE = '_push_devices'
/** One row per `push.send` (src/push/service.ts): what to send, to whom, and how far planning got. */
export const PUSHES_TABLE = '_pushes'
/** One row per device a push was tried on: the record that keeps a resumed job from sending twice. */
export const PUSH_SENDS_TABLE = '_push_sends'

/**
 * `_push_devices`: `id` is a hash of platform and token, so a token registered again (by the same
 * user or, after a sign-out and sign-in, by another) is the same row and moves to the new owner;
 * `active` is 0 once a provider said the token is dead. `_pushes` keeps a send's message, target
 * and the planning cursor (the last user id whose chunk is enqueued). `_push_sends` has one row
 * per (push, device), written `sending` before the device is tried and its outcome after.
 */
export function pushMigration(dialect: SqlDialect): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      await db.schema
        .createTable(PUSH_DEVICES_TABLE)
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('collectionId', 'varchar(255)', (c) => c.notNull())
        .addColumn('recordId', 'varchar(255)', (c) => c.notNull())
        .addColumn('platform', 'varchar(16)', (c) => c.notNull())
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('topic', 'varchar(255)', (c) => c.notNull())
        .addColumn('locale', 'varchar(35)', (c) => c.notNull())
        .addColumn('appVersion', 'varchar(64)', (c) => c.notNull())
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('updated', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('idx__push_devices_owner').on(PUSH_DEVICES_TABLE).columns(['collectionId', 'recordId']).execute()
      await db.schema
        .createTable(PUSHES_TABLE)
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('message', dialect.bigText, (c) => c.notNull())
        .addColumn('target', dialect.bigText, (c) => c.notNull())
        .addColumn('cursor', 'varchar(255)', (c) => c.notNull())
        .addColumn('chunks', 'integer', (c) => c.notNull())
        .addColumn('planned', 'integer', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('idx__pushes_created').on(PUSHES_TABLE).column('created').execute()
      await db.schema
        .createTable(PUSH_SENDS_TABLE)
        .addColumn('pushId', 'varchar(64)', (c) => c.notNull())
        .addColumn('deviceId', 'varchar(64)', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('reason', 'varchar(100)', (c) => c.notNull())
        .addColumn('updated', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('pk__push_sends', ['pushId', 'deviceId'])
        .execute()
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      await db.schema.dropTable(PUSH_SENDS_TABLE).execute()
      await db.schema.dropTable(PUSHES_TABLE).execute()
      await db.schema.dropTable(PUSH_DEVICES_TABLE).execute()
    },
  }
}
