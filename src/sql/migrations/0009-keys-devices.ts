import type { Kysely, Migration } from 'kysely'
import type { SqlDialect } from '../dialect.ts'

/** Device public keys for request signatures (src/security/signatures/devices.ts). */
export const DEVICES_TABLE = '_devices'
/** The server's RSA key pairs for sensitive fields, private halves encrypted (src/security/keys). */
export const KEYS_TABLE = '_keys'

/**
 * `_devices`: one row per registered device key; `id` is the `keyid` a signature names, and the
 * key belongs to one auth record (`collectionId`, `recordId`). `_keys`: one row per RSA key pair,
 * `retired` set (epoch ms) once rotated out; the private key is AES-256-GCM encrypted with the
 * master key, never stored in the clear.
 */
export function keysDevicesMigration(dialect: SqlDialect): Migration {
  return {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async up(db: Kysely<any>) {
      await db.schema
        .createTable(DEVICES_TABLE)
        .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('collectionId', 'varchar(255)', (c) => c.notNull())
        .addColumn('recordId', 'varchar(255)', (c) => c.notNull())
        .addColumn('name', 'varchar(255)', (c) => c.notNull())
        .addColumn('alg', 'varchar(32)', (c) => c.notNull())
        .addColumn('publicKey', 'text', (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema.createIndex('idx__devices_owner').on(DEVICES_TABLE).columns(['collectionId', 'recordId']).execute()
      await db.schema
        .createTable(KEYS_TABLE)
        .addColumn('kid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('publicJwk', dialect.bigText, (c) => c.notNull())
        .addColumn('privateEnc', dialect.bigText, (c) => c.notNull())
        .addColumn('created', 'bigint', (c) => c.notNull())
        .addColumn('retired', 'bigint')
        .execute()
    },
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async down(db: Kysely<any>) {
      await db.schema.dropTable(KEYS_TABLE).execute()
      await db.schema.dropTable(DEVICES_TABLE).execute()
    },
  }
}
